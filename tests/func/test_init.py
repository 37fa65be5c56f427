"""Black-box tests of the LSB init script, init/bgserviced.

The script runs for real against the real daemon, on a free loopback port,
with its configuration, pidfile and spool in a temporary folder that the
script learns of through a defaults file named by BGSERVICED_DEFAULTS.
Like the rest of the suite, each such test runs once per build in
tests/lib/bgs.py (plain, ASan+UBSan), or against $BGS_SBIN/bgserviced when
BGS_SBIN is set.  The detached daemon's stderr is /dev/null, so sanitizer
reports go to files beside it, and any is a failure.

Every wait is bounded; the only processes ever signalled are daemons this
test started (by the pid their pidfile gave) and a sleep(1) it spawned.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))

import bgs  # noqa: E402  (the suite's builds and sanitizer settings)

SCRIPT = REPO / "init" / "bgserviced"
DEFAULTS_EXAMPLE = REPO / "init" / "bgserviced.default"
UNIT = REPO / "init" / "bgserviced.service"

# The variables the script takes from the environment over its defaults
# file; removed from the environment the tests hand it unless wanted.
SCRIPT_VARS = ("DAEMON", "CONFIG", "PIDFILE", "DAEMON_OPTS")

# Longest any one action may take: stop waits up to 10 s for SIGTERM and
# 5 s after SIGKILL; a sanitizer build starts slowly.
ACTION_TIMEOUT = 60

# LSB exit codes.
LSB_OK = 0
LSB_DEADPID = 1  # status: dead, pidfile exists
LSB_USAGE = 2
LSB_STOPPED = 3  # status: not running
LSB_NOTINSTALLED = 5
LSB_NOTCONFIGURED = 6

BROKEN_CONFIG = 'pidfile = "unterminated;\nservices = {\n'


def free_port():
    """A loopback port free for both TCP and UDP, as the daemon binds both."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    pytest.fail("no loopback port free for both TCP and UDP")


def pid_alive(pid):
    """True while pid is a live process; a zombie counts as gone, for the
    daemon, detached, is reaped by whoever adopted it, maybe late."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    # "pid (comm) state ...": the state follows the last parenthesis.
    return stat.rpartition(")")[2].split()[0] != "Z"


def is_daemon(pid):
    """True if pid is a live bgserviced, i.e. ours to signal."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return pid_alive(pid) and comm == "bgserviced"


def wait_gone(pid, seconds):
    """Wait, bounded, for pid to exit; True if it did."""
    for _ in range(int(seconds * 10)):
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def read_pid(pidfile):
    """The pid in pidfile, or None if there is no file or no number."""
    try:
        text = pidfile.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def ask(port, request, timeout=5.0):
    """One TCP request, our side shut down after it; the answer to EOF."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            pytest.fail(f"no end to the answer to {request!r}")
    return b"".join(chunks)


def ask_until(port, request, want, seconds=5.0):
    """Ask, bounded, until the answer (stripped) is want; return the last."""
    answer = b""
    for _ in range(int(seconds * 10)):
        try:
            answer = ask(port, request).strip()
        except OSError as e:
            answer = repr(e).encode()
        if answer == want:
            break
        time.sleep(0.1)
    return answer


class Action:
    """What one run of the script did."""

    def __init__(self, action, rc, out, err):
        self.action, self.rc, self.out, self.err = action, rc, out, err

    def __repr__(self):
        return (f"init/bgserviced {self.action}: exit {self.rc}\n"
                f"stdout: {self.out!r}\nstderr: {self.err!r}")


def run_script(tmp_path, env, *args):
    """Run the init script with args.  Its output goes to files, not
    pipes, so that a daemon that kept a descriptor cannot hang the test."""
    out, err = tmp_path / "script.out", tmp_path / "script.err"
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.run([str(SCRIPT), *args], env=env,
                              stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                              timeout=ACTION_TIMEOUT, check=False)
    return Action(" ".join(args), proc.returncode, out.read_text(),
                  err.read_text())


def clean_env(**extra):
    """The environment without the script's variables, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARS}
    env.update(extra)
    return env


class Rig:
    """A configuration, defaults file and pidfile of our own in tmp_path."""

    def __init__(self, tmp_path, daemon):
        self.tmp = tmp_path
        self.daemon = daemon
        self.port = free_port()
        self.pidfile = tmp_path / "bgserviced.pid"
        self.spool = tmp_path / "spool"
        self.config = tmp_path / "bgserviced.conf"
        self.defaults = tmp_path / "default"
        self.sanlog = tmp_path / "sanitizer"  # .PID appended
        self.seen = set()  # every daemon pid we saw, for the teardown
        self.write_config()
        self.defaults.write_text(
            "# written by test_init.py\n"
            f'DAEMON="{daemon}"\n'
            f'CONFIG="{self.config}"\n'
            f'PIDFILE="{self.pidfile}"\n'
            'DAEMON_OPTS=""\n')
        self.env = clean_env(BGSERVICED_DEFAULTS=str(self.defaults))
        for name, options in bgs.SANITIZER_ENV.items():
            self.env[name] = f"{options}:log_path={self.sanlog}"

    def write_config(self, lower=False):
        services = ('upper = { command = [ "/usr/bin/tr", "a-z", "A-Z" ];'
                    f' user = "{bgs.ME}"; spool_writable = true; }};')
        if lower:
            services += (' lower = { command = [ "/usr/bin/tr", "A-Z",'
                         f' "a-z" ]; user = "{bgs.ME}"; spool_writable = true; }};')
        self.config.write_text(
            f'pidfile = "{self.pidfile}";\n'
            f'spool_dir = "{self.spool}";\n'
            f'log = "{self.tmp / "daemon.log"}";\n'
            f'listen = ( {{ address = "127.0.0.1"; port = {self.port}; }} );\n'
            f"services = {{ {services} }};\n")

    def run(self, *args, env=None):
        return run_script(self.tmp, self.env if env is None else env, *args)

    def pid(self):
        pid = read_pid(self.pidfile)
        if pid is not None:
            self.seen.add(pid)
        return pid

    def running_pid(self):
        """The pid in the pidfile, which must be a live daemon."""
        pid = self.pid()
        assert pid is not None, f"no pid in {self.pidfile}"
        assert is_daemon(pid), f"pid {pid} is not a live bgserviced"
        return pid

    def answers(self):
        assert ask_until(self.port, b"helo", b"oleh") == b"oleh"
        assert ask_until(self.port, b"upper:hello", b"HELLO") == b"HELLO"

    def teardown(self):
        """SIGTERM, then SIGKILL, whatever daemon of ours is still up."""
        self.pid()
        for pid in self.seen:
            if not is_daemon(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            if not wait_gone(pid, 10) and is_daemon(pid):
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5)

    def sanitizer_reports(self):
        return "".join(f"{log.name}:\n{log.read_text(errors='replace')}"
                       for log in sorted(self.tmp.glob(self.sanlog.name
                                                        + ".*")))


@pytest.fixture(params=list(bgs.BUILDS))
def daemon_bin(request):
    """The daemon of each build, or $BGS_SBIN/bgserviced."""
    sbin = os.environ.get("BGS_SBIN") or bgs.BUILDS[request.param]
    path = Path(sbin) / "bgserviced"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built: run 'make check'")
    return path


@pytest.fixture
def init_rig(tmp_path, daemon_bin):
    rig = Rig(tmp_path, daemon_bin)
    try:
        yield rig
    finally:
        rig.teardown()
    reports = rig.sanitizer_reports()
    assert not reports, "sanitizer report:\n" + reports


def test_shellcheck():
    """The script is shellcheck clean; a missing shellcheck is a failure."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed (the Makefile installs it)")
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True,
                          text=True, timeout=ACTION_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lsb_header():
    text = SCRIPT.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert os.access(SCRIPT, os.X_OK), "init/bgserviced is not executable"
    begin = text.index("### BEGIN INIT INFO\n")
    end = text.index("### END INIT INFO\n")
    header = {}
    for line in text[begin:end].splitlines()[1:]:
        key, sep, value = line.lstrip("# ").partition(":")
        if sep and not line.startswith("#  "):
            header[key] = value.split()
    assert header["Provides"] == ["bgserviced"]
    for key in ("Required-Start", "Required-Stop"):
        assert set(header[key]) >= {"$remote_fs", "$syslog", "$network"}
    assert header["Default-Start"] == ["2", "3", "4", "5"]
    assert header["Default-Stop"] == ["0", "1", "6"]
    assert header["Short-Description"]


def test_defaults_example_is_inert():
    """The shipped /etc/default example parses and changes nothing."""
    probe = ('. "$1" && echo "${DAEMON-unset} ${CONFIG-unset} '
             '${PIDFILE-unset} ${DAEMON_OPTS-unset}"')
    proc = subprocess.run(["sh", "-c", probe, "sh", str(DEFAULTS_EXAMPLE)],
                          env=clean_env(), capture_output=True, text=True,
                          timeout=ACTION_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["unset"] * 4


def test_unknown_action(tmp_path):
    env = clean_env(BGSERVICED_DEFAULTS=str(tmp_path / "none"))
    for args in (("frobnicate",), ()):
        r = run_script(tmp_path, env, *args)
        assert r.rc == LSB_USAGE, r
        assert "Usage:" in r.err, r
        assert "configtest" in r.err, r
        assert r.out == "", r


def test_not_installed(tmp_path):
    """A missing daemon: status says stopped, the rest say not installed."""
    env = clean_env(BGSERVICED_DEFAULTS=str(tmp_path / "none"),
                    DAEMON=str(tmp_path / "no-such-daemon"),
                    CONFIG=str(tmp_path / "no.conf"),
                    PIDFILE=str(tmp_path / "no.pid"))
    assert run_script(tmp_path, env, "status").rc == LSB_STOPPED
    assert run_script(tmp_path, env, "stop").rc == LSB_OK
    for action in ("start", "configtest", "reload", "restart"):
        r = run_script(tmp_path, env, action)
        assert r.rc == LSB_NOTINSTALLED, r


def test_stale_pidfiles(tmp_path):
    """A pidfile naming no daemon: status 1; stop cleans it up, and never
    signals a process of another program that now has that pid."""
    pidfile = tmp_path / "bgserviced.pid"
    env = clean_env(BGSERVICED_DEFAULTS=str(tmp_path / "none"),
                    DAEMON=str(tmp_path / "bgserviced"),
                    PIDFILE=str(pidfile))

    gone = subprocess.Popen(["true"])
    gone.wait(timeout=ACTION_TIMEOUT)
    other = subprocess.Popen(["sleep", "60"])
    try:
        for content in (f"{gone.pid}", "", "garbage\n", f"{other.pid}\n"):
            pidfile.write_text(content)
            r = run_script(tmp_path, env, "status")
            assert r.rc == LSB_DEADPID, f"{content!r}: {r}"
            r = run_script(tmp_path, env, "stop")
            assert r.rc == LSB_OK, f"{content!r}: {r}"
            assert not pidfile.exists(), f"{content!r}: {r}"
            assert run_script(tmp_path, env, "status").rc == LSB_STOPPED
        assert other.poll() is None, "stop signalled a process not its own"
    finally:
        other.kill()
        other.wait(timeout=ACTION_TIMEOUT)


@pytest.mark.parametrize("on_term, killed", [
    ("sleep 0.5; exit 0", False),  # slow to exit: stop waits for it
    ("", True),                     # ignores SIGTERM: stop sends SIGKILL
])
def test_stop_waits_then_kills(tmp_path, on_term, killed):
    """stop waits, bounded, for the process to exit after SIGTERM, then
    kills it.  A stand-in of our own plays the daemon: a shell script
    named bgserviced, so that the script takes it for one."""
    fake = tmp_path / "bgserviced"
    fake.write_text(f"#!/bin/sh\ntrap '{on_term}' TERM\n"
                    "while :; do sleep 0.1; done\n")
    fake.chmod(0o755)
    pidfile = tmp_path / "fake.pid"
    env = clean_env(BGSERVICED_DEFAULTS=str(tmp_path / "none"),
                    DAEMON=str(fake), PIDFILE=str(pidfile),
                    STOP_WAIT="20")  # 2 s
    proc = subprocess.Popen([str(fake)])
    try:
        pidfile.write_text(f"{proc.pid}\n")
        for _ in range(50):  # until the shell has set its trap
            if run_script(tmp_path, env, "status").rc == LSB_OK:
                break
            time.sleep(0.1)
        time.sleep(0.2)
        r = run_script(tmp_path, env, "stop")
        assert r.rc == LSB_OK, r
        assert ("SIGKILL" in r.err) == killed, r
        rc = proc.wait(timeout=ACTION_TIMEOUT)
        assert rc == (-signal.SIGKILL if killed else 0), r
        assert not pidfile.exists(), r
        assert run_script(tmp_path, env, "status").rc == LSB_STOPPED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=ACTION_TIMEOUT)


def test_lifecycle(init_rig):
    """status, start, reload, restart and stop of the real daemon."""
    rig = init_rig

    r = rig.run("status")
    assert r.rc == LSB_STOPPED, r

    r = rig.run("start")
    assert r.rc == LSB_OK, r
    pid = rig.running_pid()
    rig.answers()

    r = rig.run("status")
    assert r.rc == LSB_OK, r
    assert str(pid) in r.out, r

    # Starting a running daemon succeeds and changes nothing.
    r = rig.run("start")
    assert r.rc == LSB_OK, r
    assert rig.running_pid() == pid

    r = rig.run("configtest")
    assert r.rc == LSB_OK, r

    # reload really sends SIGHUP: a service added to the file appears.
    assert ask(rig.port, b"lower:HELLO").strip() != b"hello"
    rig.write_config(lower=True)
    for action in ("reload", "force-reload"):
        r = rig.run(action)
        assert r.rc == LSB_OK, r
        assert rig.running_pid() == pid
    assert ask_until(rig.port, b"lower:HELLO", b"hello") == b"hello"
    rig.answers()

    # A broken file: configtest, reload and restart refuse, and the
    # daemon keeps running as it was.
    good = rig.config.read_text()
    rig.config.write_text(BROKEN_CONFIG)
    for action in ("configtest", "reload", "force-reload", "restart"):
        r = rig.run(action)
        assert r.rc == LSB_NOTCONFIGURED, r
        assert r.err, r
        assert rig.running_pid() == pid, action
    rig.answers()
    rig.config.write_text(good)

    r = rig.run("restart")
    assert r.rc == LSB_OK, r
    new = rig.running_pid()
    assert new != pid, "restart did not replace the daemon"
    assert not pid_alive(pid)
    rig.answers()
    pid = new

    r = rig.run("stop")
    assert r.rc == LSB_OK, r
    assert "SIGKILL" not in r.err, r  # SIGTERM was enough
    assert not pid_alive(pid)
    assert not rig.pidfile.exists()

    r = rig.run("status")
    assert r.rc == LSB_STOPPED, r
    r = rig.run("stop")
    assert r.rc == LSB_OK, r

    # Unknown actions say how to call; nothing else happens.
    r = rig.run("bounce")
    assert r.rc == LSB_USAGE, r
    assert "Usage:" in r.err, r


def test_start_over_stale_pidfile(init_rig):
    """A pidfile left by a dead daemon does not keep a new one from
    starting."""
    rig = init_rig
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=ACTION_TIMEOUT)
    rig.pidfile.write_text(f"{gone.pid}\n")
    assert rig.run("status").rc == LSB_DEADPID

    r = rig.run("start")
    assert r.rc == LSB_OK, r
    pid = rig.running_pid()
    assert pid != gone.pid
    rig.answers()

    r = rig.run("stop")
    assert r.rc == LSB_OK, r
    assert not pid_alive(pid)


def test_start_failure(init_rig):
    """A configuration the daemon rejects: start fails and leaves nothing."""
    rig = init_rig
    rig.config.write_text(BROKEN_CONFIG)
    r = rig.run("start")
    assert r.rc != LSB_OK, r
    assert rig.pid() is None or not is_daemon(rig.pid())
    assert rig.run("status").rc in (LSB_DEADPID, LSB_STOPPED)

    rig.config.unlink()
    r = rig.run("start")
    assert r.rc == LSB_NOTCONFIGURED, r
    r = rig.run("configtest")
    assert r.rc == LSB_NOTCONFIGURED, r


def test_environment_beats_defaults_file(init_rig):
    """DAEMON, CONFIG and PIDFILE in the environment win over the file."""
    rig = init_rig
    broken = rig.tmp / "broken.conf"
    broken.write_text(BROKEN_CONFIG)

    # The file names the good configuration; the environment a broken one.
    r = rig.run("configtest", env={**rig.env, "CONFIG": str(broken)})
    assert r.rc == LSB_NOTCONFIGURED, r

    # The file names a broken configuration and no daemon; the
    # environment the good ones.
    rig.defaults.write_text(f'DAEMON=/nonexistent\nCONFIG="{broken}"\n'
                            "PIDFILE=/nonexistent.pid\n")
    env = {**rig.env, "DAEMON": str(rig.daemon), "CONFIG": str(rig.config),
           "PIDFILE": str(rig.pidfile)}
    r = rig.run("configtest", env=env)
    assert r.rc == LSB_OK, r

    r = rig.run("start", env=env)
    assert r.rc == LSB_OK, r
    pid = rig.running_pid()
    rig.answers()
    r = rig.run("status", env=env)
    assert r.rc == LSB_OK, r
    r = rig.run("stop", env=env)
    assert r.rc == LSB_OK, r
    assert not pid_alive(pid)


def test_systemd_unit():
    text = UNIT.read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert "Type=forking" in lines
    assert any(line.startswith("PIDFile=/") for line in lines)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines
    assert any(line.startswith("ExecStartPre=") and " -t " in line
               for line in lines)
    assert "Restart=on-failure" in lines
    # Services run as other users: the daemon must keep setuid(2).
    assert not any(line.startswith("NoNewPrivileges") for line in lines)


def test_systemd_unit_verifies(tmp_path):
    """systemd-analyze verify, where systemd is installed."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that the commands exist: stand one in for the daemon.
    unit = tmp_path / "bgserviced.service"
    unit.write_text(UNIT.read_text().replace("/usr/sbin/bgserviced",
                                             shutil.which("true")))
    proc = subprocess.run([analyze, "verify", "--man=no", str(unit)],
                          capture_output=True, text=True,
                          timeout=ACTION_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr == ""


def test_pidfile_from_the_configuration(init_rig):
    """PIDFILE unset: the script asks the daemon (bgserviced -P) which
    pidfile the configuration names, and tracks the daemon by it."""
    rig = init_rig
    rig.defaults.write_text(f'DAEMON="{rig.daemon}"\nCONFIG="{rig.config}"\n')
    r = rig.run("start")
    assert r.rc == LSB_OK, r
    pid = rig.running_pid()
    assert rig.run("status").rc == LSB_OK
    assert rig.run("stop").rc == LSB_OK
    assert wait_gone(pid, 10)


def test_pidfile_disagreeing_with_the_configuration(init_rig):
    """PIDFILE set to another file than the configuration's: start says
    why and starts nothing, at once (no 10 s wait, no untracked daemon)."""
    rig = init_rig
    other = rig.tmp / "other.pid"
    rig.defaults.write_text(f'DAEMON="{rig.daemon}"\nCONFIG="{rig.config}"\n'
                            f'PIDFILE="{other}"\n')
    t = time.monotonic()
    r = rig.run("start")
    assert r.rc == LSB_NOTCONFIGURED, r
    assert time.monotonic() - t < 5
    assert f"PIDFILE is {other} but {rig.config} names the pidfile {rig.pidfile}" \
        in " ".join(r.err.split()), r
    assert not rig.pidfile.exists() and not other.exists()
