"""contrib/php: the PHP client, run with php-cli against the real daemon.

Each test writes a PHP script that loads the client with require (no
composer install), gives it the daemon's address with AssignIni, and
prints JSON; binary data goes through files, compared byte for byte.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import time

import bgs

PHP_DIR = os.path.join(bgs.REPO, "contrib", "php")

PRELUDE = r"""<?php
declare(strict_types=1);
require %s;
use BgService\BackgroundServiceCaller as B;
use BgService\BackgroundServiceException;
use BgService\ConnectionException;
B::AssignIni(%s);

/* [class, code, message] of what F throws, or ['none', result]. */
function caught(callable $f): array
{
    try {
        $r = $f();
    } catch (BackgroundServiceException $e) {
        return [get_class($e), $e->getCode(), $e->getMessage()];
    }
    return ['none', $r];
}
"""

SVC_ERROR = "BgService\\BackgroundServiceException"
CONN_ERROR = "BgService\\ConnectionException"


def phpq(s):
    """S as a PHP single-quoted string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ini_for(d):
    return "[default]\ntcpurl = tcp://127.0.0.1:%d\n" % d.port


def php(tmp_path, ini, body, timeout=120):
    """Run BODY after the prelude; what it echoes, parsed as JSON.  Any
    PHP warning or notice on stderr fails the test."""
    script = tmp_path / "t.php"
    script.write_text(PRELUDE % (phpq(os.path.join(PHP_DIR, "autoload.php")),
                                 phpq(ini)) + body)
    r = subprocess.run(["php", "-d", "display_errors=stderr", "-d", "error_reporting=-1",
                        "-f", str(script)], capture_output=True, timeout=timeout)
    assert r.returncode == 0 and r.stderr == b"", r
    return json.loads(r.stdout)


# The package itself.

def shipped_php():
    files = sorted(glob.glob(os.path.join(PHP_DIR, "**", "*.php"), recursive=True))
    assert len(files) >= 4, files
    return files


def test_php_lint_every_shipped_file():
    for f in shipped_php():
        r = subprocess.run(["php", "-l", f], capture_output=True, timeout=30)
        assert r.returncode == 0, r


def test_composer_json_autoload_maps_to_the_classes():
    with open(os.path.join(PHP_DIR, "composer.json")) as f:
        meta = json.load(f)
    assert meta["require"]["php"] == ">=7.4"
    psr4 = meta["autoload"]["psr-4"]
    assert psr4 == {"BgService\\": "src/"}
    for cls in ("BackgroundServiceCaller", "BackgroundServiceException",
                "ConnectionException"):
        path = os.path.join(PHP_DIR, psr4["BgService\\"], cls + ".php")
        text = open(path).read()
        assert "\nnamespace BgService;\n" in text, path
        assert re.search(r"^class %s\b" % cls, text, re.M), path


def test_composer_validate_and_autoload(tmp_path):
    assert shutil.which("composer"), "composer is missing: run .ci/deps check"
    pkg = tmp_path / "pkg"
    shutil.copytree(PHP_DIR, pkg)
    env = dict(os.environ, COMPOSER_HOME=str(tmp_path / "home"), COMPOSER_ALLOW_SUPERUSER="1",
               COMPOSER_DISABLE_NETWORK="1", COMPOSER_NO_INTERACTION="1")
    r = subprocess.run(["composer", "validate", "--no-check-publish", "--no-check-lock"],
                       cwd=pkg, env=env, capture_output=True, timeout=120)
    assert r.returncode == 0 and b"is valid" in r.stdout + r.stderr, r
    r = subprocess.run(["composer", "dump-autoload"], cwd=pkg, env=env, capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r
    code = ("require 'vendor/autoload.php';"
            "echo json_encode([class_exists('BgService\\\\BackgroundServiceCaller'),"
            " is_subclass_of('BgService\\\\ConnectionException',"
            " 'BgService\\\\BackgroundServiceException')]);")
    r = subprocess.run(["php", "-r", code], cwd=pkg, capture_output=True, timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout) == [True, True], r


def test_readme_example(daemon_factory, tmp_path):
    d = daemon_factory(services={"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
                                 "slow": bgs.svc("sleep 0.2; cat")}).start()
    with open(os.path.join(bgs.REPO, "README.md")) as f:
        example = re.search(r"\n## PHP\n.*?```php\n(.*?)```", f.read(), re.S).group(1)
    assert len(example.splitlines()) == 5
    example = example.replace("'contrib/php/autoload.php'", phpq(os.path.join(PHP_DIR, "autoload.php")))
    example = example.replace(":12341", ":%d" % d.port)
    (tmp_path / "ex.php").write_text("<?php\n$data = 'later';\n" + example +
                                     "echo ' ', Bgs::TCPGetQueue($id);\n")
    r = subprocess.run(["php", "-d", "display_errors=stderr", "-d", "error_reporting=-1",
                        "-f", str(tmp_path / "ex.php")], capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stderr == b"" and r.stdout == b"HELLO later", r


# Calls.

def test_tcp_call(daemon, tmp_path):
    out = php(tmp_path, ini_for(daemon), """
echo json_encode([B::TCPCall('upper', 'hello php'), B::TCPCall('echo', null),
    B::TCPCall('echo', "line\\n")]);
""")
    assert out == ["HELLO PHP", "", "line\n"]


def test_output_that_looks_like_an_error_is_output(daemon_factory, tmp_path):
    # The original form cannot tell "500: x" output from an error; framed can.
    d = daemon_factory(services={"say": bgs.svc("printf '500: not an error'")}).start()
    out = php(tmp_path, ini_for(d), "echo json_encode(caught(fn() => B::TCPCall('say', '')));")
    assert out == ["none", "500: not an error"]


def test_binary_payload_round_trip(daemon, tmp_path):
    data = bytes(range(256)) * 4 + b"\0\0\0" + b"\r\n\0!call echo 3\n" + b"\0"
    (tmp_path / "in").write_bytes(data)
    php(tmp_path, ini_for(daemon), """
file_put_contents('%s', B::TCPCall('echo', file_get_contents('%s')));
echo '[]';
""" % (tmp_path / "out", tmp_path / "in"))
    assert (tmp_path / "out").read_bytes() == data


def test_4mib_payload_call_and_job(daemon_factory, tmp_path):
    big = 8 << 20
    d = daemon_factory(limits={"max_request": big, "max_output": big}).start()
    data = os.urandom(4 << 20)
    (tmp_path / "in").write_bytes(data)
    php(tmp_path, ini_for(d), """
$in = file_get_contents('%s');
file_put_contents('%s', B::TCPCall('echo', $in));
file_put_contents('%s', B::TCPGetQueue(B::TCPAddQueue('echo', $in)));
echo '[]';
""" % (tmp_path / "in", tmp_path / "call", tmp_path / "job"))
    assert (tmp_path / "call").read_bytes() == data
    assert (tmp_path / "job").read_bytes() == data


def test_udp_fire_and_forget(daemon_factory, tmp_path):
    rec, rec2 = tmp_path / "rec", tmp_path / "rec2"
    d = daemon_factory(services={
        "rec": bgs.svc("cat > %s.tmp; mv %s.tmp %s" % (rec, rec, rec)),
        "rec2": bgs.svc("cat > %s.tmp; mv %s.tmp %s" % (rec2, rec2, rec2))})
    udp_port = bgs.free_port()
    d.settings["listen"].append({"address": "127.0.0.1", "port": udp_port, "tcp": False})
    d.write_config()
    d.start()
    # rec: udpurl falls back to [default]'s tcpurl; rec2 has a udpurl of
    # its own, on a port that only serves UDP.
    ini = ini_for(d) + "[rec2]\nudpurl = udp://127.0.0.1:%d\n" % udp_port
    out = php(tmp_path, ini, """
echo json_encode([B::UDPCall('rec', 'fire and forget'), B::UDPCall('rec2', "caf\\xe9", 'ISO-8859-1')]);
""")
    assert out == [None, None]
    assert bgs.wait_until(rec.exists, 10), d.log()
    assert rec.read_bytes() == b"fire and forget"
    assert bgs.wait_until(rec2.exists, 10), d.log()
    assert rec2.read_bytes() == "café".encode()


def test_unix_socket_url(daemon_factory, tmp_path):
    path = str(tmp_path / "bgs.sock")
    d = daemon_factory(services={"env": {"command": ["/usr/bin/env"]}})
    d.settings["listen"].append({"path": path})
    d.write_config()
    d.start()
    out = php(tmp_path, "[default]\ntcpurl = unix:%s\n" % path,
              "echo json_encode(B::TCPCall('env', ''));")
    assert "BGS_TRANSPORT=unix" in out.splitlines()


def test_subclasses_have_their_own_ini(daemon, tmp_path):
    dead = bgs.free_port()
    out = php(tmp_path, ini_for(daemon), """
class Elsewhere extends B {}
Elsewhere::AssignIni("[default]\\ntcpurl = 127.0.0.1:%d\\nconnect_timeout = 5\\n");
echo json_encode([B::TCPCall('upper', 'here'), caught(fn() => Elsewhere::TCPCall('upper', 'x'))]);
""" % dead)
    assert out[0] == "HERE"
    assert out[1][:2] == [CONN_ERROR, 0] and "cannot connect to 127.0.0.1:%d" % dead in out[1][2]


def test_ini_from_a_file_and_bad_ini(daemon, tmp_path):
    (tmp_path / "bg.ini").write_text("[upper]\ntcpurl = \"tcp://127.0.0.1:%d\"\n" % daemon.port)
    out = php(tmp_path, ini_for(daemon), """
class FromFile extends B {}
FromFile::AssignIni('%s');
echo json_encode([FromFile::TCPCall('upper', 'file'),
    caught(fn() => B::AssignIni("[x]\\nport = 1\\n")),
    caught(fn() => B::AssignIni("[x]\\ntimeout = soon\\n")),
    caught(fn() => B::AssignIni('%s')),
    caught(fn() => B::AssignIni("[x\\ntcpurl = 1\\n"))]);
""" % (tmp_path / "bg.ini", tmp_path / "missing.ini"))
    assert out[0] == "FILE"
    assert out[1] == [SVC_ERROR, 0, "bad ini: [x]: unknown key 'port'"]
    assert out[2] == [SVC_ERROR, 0, "bad ini: [x]: timeout must be seconds"]
    assert out[3][:2] == [SVC_ERROR, 0] and "cannot read the ini file" in out[3][2]
    assert out[4][:2] == [SVC_ERROR, 0] and out[4][2].startswith("bad ini: syntax error")


# Jobs.

def test_queue_add_check_get_info(daemon, tmp_path):
    out = php(tmp_path, ini_for(daemon), """
$id = B::TCPAddQueue('upper', 'queued');
$get = B::TCPGetQueue($id);
echo json_encode([$id, $get, B::TCPCheckQueue($id), B::TCPInfoQueue($id),
    B::TCPGetQueue(substr($id, 3))]);
""")
    jid, get, check, info, again = out
    assert jid.startswith("id:") and len(jid) == 19
    assert get == "QUEUED" and again == "QUEUED" and check == "2"
    assert info["id"] == jid[3:] and info["service"] == "upper"
    assert info["state"] == "done" and info["code"] == "200" and info["result"] == "exit 0"
    assert info["output_bytes"] == "6"


def test_queue_cancel_and_job_errors(daemon_factory, tmp_path):
    d = daemon_factory(services={"slow": bgs.svc("sleep 30"),
                                 "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]}}).start()
    out = php(tmp_path, ini_for(d), """
$id = B::TCPAddQueue('slow', '');
$state = B::TCPCheckQueue($id);
B::TCPCancelQueue($id);
echo json_encode([$state, caught(fn() => B::TCPGetQueue($id)), B::TCPInfoQueue($id),
    caught(fn() => B::TCPCancelQueue($id)),
    caught(fn() => B::TCPCheckQueue('id:0123456789abcdef')),
    caught(fn() => B::TCPInfoQueue('not-an-id')),
    caught(fn() => B::TCPAddQueue('nosuch', 'x'))]);
""")
    state, get, info, again, unknown, bad, nosuch = out
    assert state in ("0", "1")
    assert get == [SVC_ERROR, 410, "Job cancelled"]
    assert info["state"] == "done" and info["result"] == "cancelled" and info["code"] == "410"
    assert again == [SVC_ERROR, 409, "Job already done"]
    assert unknown == [SVC_ERROR, 404, "Unknown job id"]
    assert bad == [SVC_ERROR, 404, "Unknown job id"]
    assert nosuch == [SVC_ERROR, 400, "Unknown request"]


def test_queue_section_names_the_jobs_daemon(daemon, tmp_path):
    # As in the original, the job verbs go where [queue] says.
    dead = bgs.free_port()
    ini = "[default]\ntcpurl = 127.0.0.1:%d\n[queue]\ntcpurl = tcp://127.0.0.1:%d\n" % (
        dead, daemon.port)
    out = php(tmp_path, ini, """
echo json_encode([B::TCPGetQueue(B::TCPAddQueue('upper', 'q')),
    caught(fn() => B::TCPCall('upper', 'x'))[0]]);
""")
    assert out == ["Q", CONN_ERROR]


# Charsets.

def test_charset_iso_8859_1(daemon_factory, tmp_path):
    d = daemon_factory(services={
        "hex": {"command": ["/usr/bin/od", "-An", "-v", "-tx1"]},
        "hex1": {"command": ["/usr/bin/od", "-An", "-v", "-tx1"], "charset": "ISO-8859-1"},
        "echo": {"command": ["/bin/cat"]},
        "utf8": bgs.svc("printf 'caf\\303\\251'"),
        "euro": bgs.svc("printf '\\342\\202\\254'")}).start()
    out = php(tmp_path, ini_for(d), """
$l1 = "caf\\xe9";
$id = B::TCPAddQueue('utf8', '', 'ISO-8859-1');
echo json_encode([B::TCPCall('hex', $l1, 'ISO-8859-1'), B::TCPCall('hex1', $l1, 'ISO-8859-1'),
    B::TCPCall('echo', $l1, 'ISO-8859-1') === $l1, B::TCPCall('utf8', '', 'ISO-8859-1') === $l1,
    B::TCPGetQueue($id, 'ISO-8859-1') === $l1, bin2hex(B::TCPCall('utf8', '')),
    caught(fn() => B::TCPCall('euro', '', 'ISO-8859-1')),
    caught(fn() => B::TCPCall('echo', 'x', 'NO-SUCH-CHARSET'))]);
""")
    # On the wire the data is UTF-8; a service with a charset of its own
    # gets it converted again by the daemon.
    assert out[0].split() == ["63", "61", "66", "c3", "a9"]
    assert out[1].split() == ["63", "61", "66", "e9"]
    assert out[2:5] == [True, True, True]
    assert out[5] == "636166c3a9"
    assert out[6] == [SVC_ERROR, 0, "cannot convert the data from UTF-8 to ISO-8859-1"]
    assert out[7] == [SVC_ERROR, 0, "cannot convert the data from NO-SUCH-CHARSET to UTF-8"]


# Errors.

def test_errors_are_exceptions_with_the_daemons_code(daemon_factory, tmp_path):
    d = daemon_factory(limits={"max_output": 100}, services={
        "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
        "echo": {"command": ["/bin/cat"]},
        "fail": bgs.svc("echo partial; exit 3"),
        "guarded": {"command": ["/bin/cat"], "allow": ["127.0.0.2"]}}).start()
    out = php(tmp_path, ini_for(d), """
echo json_encode([caught(fn() => B::TCPCall('nosuch', 'x')),
    caught(fn() => B::TCPCall('fail', 'x')),
    caught(fn() => B::TCPCall('guarded', 'x')),
    caught(fn() => B::TCPCall('echo', str_repeat('x', 101))),
    caught(fn() => B::TCPCall('echo', str_repeat('x', 2 << 20))),
    caught(fn() => B::TCPCall('bad name', 'x')),
    caught(fn() => B::TCPCall('upper', 'still fine'))]);
""")
    assert out == [
        [SVC_ERROR, 400, "Unknown request"],
        [SVC_ERROR, 502, "Service fail failed with exit status 3"],
        [SVC_ERROR, 403, "Access denied"],
        [SVC_ERROR, 507, "Service echo output exceeds the max_output limit"],
        [SVC_ERROR, 413, "Request too large"],
        [SVC_ERROR, 0, "bad service name 'bad name'"],
        ["none", "STILL FINE"]]


def test_rate_limited_call_is_a_429_exception(daemon_factory, tmp_path):
    # A framed 429 carries "retry=N" after its length: still an answer.
    d = daemon_factory(services={"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"],
                                           "source_rate": 1, "source_burst": 1}}).start()
    out = php(tmp_path, ini_for(d), """
echo json_encode([caught(fn() => B::TCPCall('upper', 'x')),
    caught(fn() => B::TCPCall('upper', 'y'))]);
""")
    assert out[0] == ["none", "X"]
    assert out[1][:2] == [SVC_ERROR, 429], out
    assert out[1][2].startswith("Too many requests: retry after "), out


def test_refused_by_the_master_is_an_exception(daemon_factory, tmp_path):
    # The master refuses in the original form, even a framed caller.
    d = daemon_factory(extra={"allow": ["127.0.0.2"]})
    d.start(wait=False)
    assert bgs.wait_until(lambda: bgs.connects(("127.0.0.1", d.port)), 15), d.log()
    out = php(tmp_path, ini_for(d), "echo json_encode(caught(fn() => B::TCPCall('upper', 'x')));")
    assert out == [SVC_ERROR, 403, "Access denied"]


def test_read_timeout(daemon_factory, tmp_path):
    d = daemon_factory(services={"slow": bgs.svc("sleep 30; echo late")}).start()
    t0 = time.monotonic()
    out = php(tmp_path, ini_for(d) + "[slow]\ntimeout = 0.5\n",
              "echo json_encode(caught(fn() => B::TCPCall('slow', '')));")
    assert out == [CONN_ERROR, 0, "timed out waiting for the answer"]
    assert time.monotonic() - t0 < 20


def test_daemon_gone_is_a_connection_exception(tmp_path):
    dead = bgs.free_port()
    out = php(tmp_path, "[default]\ntcpurl = 127.0.0.1:%d\n" % dead, """
echo json_encode([caught(fn() => B::TCPCall('upper', 'x')),
    caught(fn() => B::TCPAddQueue('upper', 'x'))]);
""")
    for got in out:
        assert got[:2] == [CONN_ERROR, 0] and "cannot connect to 127.0.0.1:%d" % dead in got[2]
