"""Every way in: UDP, per-service transports, IPv6, UNIX sockets, the
framed form, charsets, and the client's send, -C and configuration."""
import os
import socket
import stat
import subprocess

import bgs

SH = "/bin/sh"


svc = bgs.svc


def dgram(port, data, family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_DGRAM) as u:
        u.sendto(data, (host, port))


# UDP

def test_udp_datagram_runs_service(daemon_factory, tmp_path):
    out = tmp_path / "out"
    d = daemon_factory(services={"rec": svc("{ cat; echo; env | grep ^BGS_ | sort; } > %s.tmp;"
                                             " mv %s.tmp %s" % (out, out, out))}).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        myport = u.getsockname()[1]
        u.sendto(b"rec:fire and forget", ("127.0.0.1", d.port))
        assert bgs.wait_until(out.exists, 10), d.log()
        u.settimeout(0.3)
        try:
            u.recv(100)
            answered = True
        except socket.timeout:
            answered = False
    assert not answered, "a datagram must not be answered"
    lines = out.read_text().splitlines()
    assert lines[0] == "fire and forget"
    assert "BGS_TRANSPORT=udp" in lines
    assert "BGS_REMOTE_PORT=%d" % myport in lines
    assert "BGS_LOCAL_PORT=%d" % d.port in lines
    assert "BGS_SERVICE=rec" in lines


def test_udp_to_tcp_only_service_dropped(daemon_factory, tmp_path):
    mark = tmp_path / "ran"
    d = daemon_factory(services={"tcponly": svc("touch %s" % mark, udp=False)}).start()
    dgram(d.port, b"tcponly:x")
    assert d.wait_log("dropped: service tcponly is not available over udp"), d.log()
    assert not mark.exists()
    # Over TCP it runs.
    d.request(b"tcponly:x")
    assert mark.exists()


def test_tcp_to_udp_only_service_405(daemon_factory, tmp_path):
    mark = tmp_path / "ran"
    d = daemon_factory(services={"udponly": svc("touch %s" % mark, tcp=False)}).start()
    assert d.request(b"udponly:x") == b"405: Service is not available over tcp\n"
    assert d.request(b"queue:add:udponly:x") == b"405: Service is not available over tcp\n"
    assert not mark.exists()
    dgram(d.port, b"udponly:x")
    assert bgs.wait_until(mark.exists, 10)


def test_udp_garbage_and_oversize_dropped(daemon_factory, tmp_path):
    mark = tmp_path / "ran"
    d = daemon_factory(limits={"max_request": 100},
                       services={"rec": svc("touch %s" % mark)}).start()
    dgram(d.port, b"\x00\xff garbage")
    dgram(d.port, b"rec:" + b"x" * 500)
    assert d.wait_log("exceed max_request")
    assert d.wait_log("dropped: not a service call")
    assert not mark.exists()
    assert d.request(b"helo") == b"oleh"


def test_listen_tcp_false_serves_no_tcp(daemon_factory, tmp_path):
    mark = tmp_path / "ran"
    d = daemon_factory(services={"rec": svc("touch %s" % mark)})
    udp_port = bgs.free_port()
    d.settings["listen"].append({"address": "127.0.0.1", "port": udp_port, "tcp": False})
    d.write_config()
    d.start()
    assert not bgs.connects(("127.0.0.1", udp_port))
    dgram(udp_port, b"rec:x")
    assert bgs.wait_until(mark.exists, 10)


# IPv6 and UNIX sockets

def test_ipv6_listener(daemon_factory):
    port = bgs.free_port()
    d = daemon_factory(listen=[{"address": "::1", "port": port, "udp": False}])
    d.port = port
    d.connect = lambda timeout=10: socket.create_connection(("::1", port), timeout=timeout)
    d.start()
    with socket.create_connection(("::1", port), timeout=10) as s:
        s.sendall(b"upper:six")
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b"SIX"
    # IPv6 only: nothing on 127.0.0.1 at that port.
    assert not bgs.connects(("127.0.0.1", port))


def test_unix_socket_listener(daemon_factory, tmp_path):
    path = str(tmp_path / "bgs.sock")
    d = daemon_factory(services={"env": {"command": ["/usr/bin/env"]}})
    d.settings["listen"].append({"path": path, "mode": "0600"})
    d.write_config()
    d.start()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"env:")
        s.shutdown(socket.SHUT_WR)
        env = bgs.recv_all(s).decode()
    assert "BGS_TRANSPORT=unix" in env.splitlines()
    assert "BGS_REMOTE_IP" not in env
    r = subprocess.run([d.client, "-H", path, "call", "env"], capture_output=True, timeout=30)
    assert r.returncode == 0 and b"BGS_TRANSPORT=unix" in r.stdout
    d.stop()
    assert not os.path.exists(path), "socket file left behind"


def test_unix_socket_stale_file_replaced(daemon_factory, tmp_path):
    path = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()                      # a stale socket nobody answers on
    d = daemon_factory("d2", listen=[{"path": path}])
    d.answers = lambda: os.path.exists(path) and unix_helo(path)
    d.start()
    assert unix_helo(path)


def unix_helo(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b"helo")
            return bgs.recv_all(s) == b"oleh"
    except OSError:
        return False


# The framed form

def test_framed_binary_payload_byte_exact(daemon):
    payload = bytes(range(256)) * 64 + b"\x00\x00upper:\n!call x 3\n\x00"
    with daemon.connect() as s:
        s.sendall(b"!call echo %d\n" % len(payload) + payload)
        code, body = bgs.read_framed(s)
    assert code == 200 and body == payload


def test_framed_several_requests_one_connection(daemon):
    with daemon.connect() as s:
        s.sendall(b"!call upper 3\nabc!helo\n!call nosuch 1\nx!call upper 0\n")
        assert bgs.read_framed(s) == (200, b"ABC")
        assert bgs.read_framed(s) == (200, b"oleh")
        assert bgs.read_framed(s) == (400, b"Unknown request")
        assert bgs.read_framed(s) == (200, b"")
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b""


def test_framed_bad_header_closes_with_error(daemon):
    with daemon.connect() as s:
        s.sendall(b"!call upper abc\nxyz")
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b"!400 18\nBad payload length"
    with daemon.connect() as s:
        s.sendall(b"!call up")
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b"!400 32\nIncomplete framed request header"


def test_framed_size_limit_before_payload(daemon_factory):
    d = daemon_factory(limits={"max_request": 1000}).start()
    with d.connect() as s:
        # The header alone announces too much: refused at once.
        s.sendall(b"!call echo 60000\n")
        assert bgs.read_framed(s) == (413, b"Request too large")
    with d.connect() as s:
        s.sendall(b"!call echo 60000\n" + b"x" * 60000)
        assert bgs.read_framed(s) == (413, b"Request too large")


def test_framed_output_that_looks_like_error(daemon_factory):
    d = daemon_factory(services={"liar": {"command": ["/bin/echo", "-n", "500: fake"]}}).start()
    with d.connect() as s:
        s.sendall(b"!call liar\n")
        assert bgs.read_framed(s) == (200, b"500: fake")


# Charsets

def test_latin1_service_round_trip(daemon_factory):
    d = daemon_factory(services={
        "hex": {"command": ["/usr/bin/od", "-An", "-tx1"], "charset": "ISO-8859-1"},
        "echo1": {"command": ["/bin/cat"], "charset": "ISO-8859-1"}}).start()
    # The command sees one latin-1 byte for "é", not UTF-8's two.
    assert d.request("hex:é".encode()).split() == [b"e9"]
    # And its latin-1 output comes back as UTF-8.
    assert d.request("echo1:déjà vu".encode()) == "déjà vu".encode()


def test_invalid_utf8_input_415(daemon_factory, tmp_path):
    mark = tmp_path / "ran"
    d = daemon_factory(services={
        "l1": svc("touch %s; cat" % mark, charset="ISO-8859-1")}).start()
    assert d.request(b"l1:\xff\xfe bad") == \
        b"415: Data cannot be converted from UTF-8 to ISO-8859-1\n"
    # Valid UTF-8 that latin-1 cannot represent.
    assert d.request("l1:price 5€".encode()) == \
        b"415: Data cannot be converted from UTF-8 to ISO-8859-1\n"
    assert not mark.exists(), "the command ran with unconvertible data"


def test_output_not_valid_in_charset_502(daemon_factory):
    d = daemon_factory(services={"bad": svc("printf 'caf\\351'", charset="ASCII")}).start()
    assert d.request(b"bad:") == b"502: Service bad output is not valid ASCII\n"


def test_unknown_charset_is_config_error(daemon_factory):
    d = daemon_factory(services={"x": {"command": ["/bin/cat"], "charset": "NO-SUCH-CHARSET"}})
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True)
    assert r.returncode == 1
    assert "charset 'NO-SUCH-CHARSET' is not known to iconv" in r.stderr


def test_latin1_job(daemon_factory):
    d = daemon_factory(services={"echo1": {"command": ["/bin/cat"], "charset": "ISO-8859-1"}}).start()
    ans = d.request("queue:add:echo1:ça va".encode())
    jid = ans[3:]
    assert d.request(b"queue:get:id:" + jid) == "ça va".encode()


# The client

def client(d, *args, input=None, env=None):
    """bgservice ARGS as they are: no -H of the daemon's."""
    return d.run_client(*args, input=input, env=env, host="")


def test_client_send_udp(daemon_factory, tmp_path):
    out = tmp_path / "out"
    d = daemon_factory(services={"rec": svc("cat > %s.tmp; mv %s.tmp %s" % (out, out, out))}).start()
    r = client(d, "-H", "127.0.0.1:%d" % d.port, "send", "rec", "by datagram")
    assert r.returncode == 0 and r.stdout == b""
    assert bgs.wait_until(out.exists, 10)
    assert out.read_bytes() == b"by datagram"
    r = client(d, "-H", "127.0.0.1:%d" % d.port, "send", "rec", input=b"x" * 70000)
    assert r.returncode == 100 and b"do not fit in a datagram" in r.stderr


def test_client_charset_conversion(daemon_factory):
    d = daemon_factory(services={"hex": {"command": ["/usr/bin/od", "-An", "-tx1"]},
                                 "echo": {"command": ["/bin/cat"]}}).start()
    h = "127.0.0.1:%d" % d.port
    # Local latin-1 "é" travels as UTF-8...
    r = client(d, "-H", h, "-C", "ISO-8859-1", "call", "hex", input=b"\xe9")
    assert r.returncode == 0 and r.stdout.split() == [b"c3", b"a9"]
    # ...and the UTF-8 answer comes back as latin-1.
    r = client(d, "-H", h, "-C", "ISO-8859-1", "call", "echo", input=b"d\xe9j\xe0")
    assert (r.returncode, r.stdout) == (0, b"d\xe9j\xe0")
    r = client(d, "-H", h, "-C", "NO-SUCH", "call", "echo", "x")
    assert r.returncode == 100 and b"unknown charset" in r.stderr
    r = client(d, "-H", h, "call", "echo", input=b"\xe9")   # no -C: bytes as they are
    assert r.stdout == b"\xe9"


def test_client_configuration_two_daemons(daemon_factory, tmp_path):
    a = daemon_factory("a", services={"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
                                      "who": {"command": ["/bin/echo", "-n", "A"]}}).start()
    rec = tmp_path / "rec"
    b = daemon_factory("b", services={"lower": {"command": ["/usr/bin/tr", "A-Z", "a-z"]},
                                      "who": {"command": ["/bin/echo", "-n", "B"]},
                                      "rec": svc("cat > %s.tmp; mv %s.tmp %s" % (rec, rec, rec))}).start()
    conf = tmp_path / "client.conf"
    conf.write_text(
        'default = { tcpurl = "tcp://127.0.0.1:%d"; };\n'
        'services = {\n'
        '  lower = { tcpurl = "tcp://127.0.0.1:%d"; };\n'
        '  rec = { udpurl = "udp://127.0.0.1:%d"; };\n'
        '};\n' % (a.port, b.port, b.port))
    r = client(a, "-c", str(conf), "call", "upper", "abc")
    assert (r.returncode, r.stdout) == (0, b"ABC")
    r = client(a, "-c", str(conf), "call", "lower", "ABC")
    assert (r.returncode, r.stdout) == (0, b"abc")
    r = client(a, "-c", str(conf), "call", "who")
    assert r.stdout == b"A"
    r = client(a, "-c", str(conf), "send", "rec", "via udpurl")
    assert r.returncode == 0
    assert bgs.wait_until(rec.exists, 10) and rec.read_bytes() == b"via udpurl"
    # Jobs: -s picks the service's daemon; the same config through the
    # environment, as from ~/.bgservice.conf.
    r = client(a, "add", "lower", "JOB", env={"BGSERVICE_CONF": str(conf)})
    jid = r.stdout.strip().decode()
    r = client(a, "-s", "lower", "get", jid, env={"BGSERVICE_CONF": str(conf)})
    assert (r.returncode, r.stdout) == (0, b"job")
    r = client(a, "get", jid, env={"BGSERVICE_CONF": str(conf)})
    assert r.returncode == 2 and b"404" in r.stderr
    # -H beats the file.
    r = client(a, "-c", str(conf), "-H", "127.0.0.1:%d" % b.port, "call", "who")
    assert r.stdout == b"B"
    # ~/.bgservice.conf is read when nothing else is named.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bgservice.conf").write_text(conf.read_text())
    r = client(a, "call", "lower", "HOME", env={"HOME": str(home)})
    assert (r.returncode, r.stdout) == (0, b"home")


def test_client_configuration_errors(daemon_factory, tmp_path):
    d = daemon_factory()
    conf = tmp_path / "bad.conf"
    conf.write_text('default = { tcpurl = "x"; tcpulr = "y"; };\n')
    r = client(d, "-c", str(conf), "ping")
    assert r.returncode == 100
    assert ("%s:1: unknown key 'tcpulr'" % conf).encode() in r.stderr
    r = client(d, "-c", str(tmp_path / "missing.conf"), "ping")
    assert r.returncode == 100 and b"No such file" in r.stderr
