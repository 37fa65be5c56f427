"""The "log" setting: syslog, a file, standard error; timestamps; reopening
after rotation; and no line lost when syslog cannot be reached.

The syslog cases run the daemon in a mount namespace of its own (unshare,
as root) whose /dev/log is either missing or the test's own socket, so
that they do not depend on the machine's syslog daemon."""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

import bgs

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} bgserviced\[\d+\]: "


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def test_foreground_lines_have_timestamps(daemon):
    daemon.call("upper", b"x")
    assert bgs.wait_until(lambda: "call upper: ok" in daemon.log())
    lines = [ln for ln in daemon.log().splitlines() if ln]
    assert lines and all(re.match(STAMP, ln) for ln in lines), lines


def test_log_file_and_reopen_on_usr1(daemon_factory, tmp_path):
    log = str(tmp_path / "bgs.log")
    d = daemon_factory(extra={"log": log}).start(foreground=False)
    d.call("upper", b"one")
    assert bgs.wait_until(lambda: "call upper: ok" in read(log)), read(log)
    assert re.match(STAMP + "started", read(log)), read(log)
    assert stat_mode(log) == 0o640
    os.rename(log, log + ".1")            # as logrotate does
    d.signal(signal.SIGUSR1)
    assert bgs.wait_until(lambda: "reopened" in read(log)), read(log + ".1")
    d.call("upper", b"two")
    assert bgs.wait_until(lambda: read(log).count("call upper: ok") == 1)
    assert read(log + ".1").count("call upper: ok") == 1
    # HUP reopens too, and keeps serving.
    os.rename(log, log + ".2")
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: "configuration reloaded" in read(log)), read(log + ".2")


def test_log_stderr_when_detached(daemon_factory, tmp_path):
    d = daemon_factory(extra={"log": "stderr"})
    errf = open(str(tmp_path / "stderr"), "wb")
    r = subprocess.Popen([d.bin, "-c", d.conf], stdin=subprocess.DEVNULL,
                         stdout=errf, stderr=errf, env=d.env())
    assert r.wait(timeout=30) == 0
    d.pid = int(open(d.pidfile).read())
    assert bgs.wait_until(d.answers, 15)
    d.call("upper", b"x")
    text = lambda: read(str(tmp_path / "stderr"))  # noqa: E731
    assert bgs.wait_until(lambda: "call upper: ok" in text()), text()
    assert re.search(STAMP + "tcp [0-9.:]+: call upper: ok", text())
    errf.close()


@pytest.mark.parametrize("value", ["syslog:nosuch", "relative/file", "", "Syslog"])
def test_bad_log_setting_refused(daemon_factory, value):
    d = daemon_factory(extra={"log": value})
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert re.search(r"bgserviced\.conf:\d+: 'log' must be", r.stderr), r.stderr


def need_namespaces():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private mount namespace")


# Mount a private /dev whose null is the real one and whose log is LOGSOCK
# (or nothing), a private /var/log, then start the daemon detached.
NS = r"""
set -e
mount --make-rprivate /
touch "$T/null"
mount --bind /dev/null "$T/null"
mount -t tmpfs tmpfs /dev
touch /dev/null
mount --bind "$T/null" /dev/null
if [ -n "$LOGSOCK" ]; then touch /dev/log; mount --bind "$LOGSOCK" /dev/log; fi
mount -t tmpfs tmpfs /var/log
exec "$@"
"""


def start_in_namespace(d, tmp_path, logsock=""):
    env = d.env()
    env.update(T=str(tmp_path), LOGSOCK=logsock)
    r = subprocess.run(["unshare", "--mount", "sh", "-c", NS, "sh", d.bin, "-c", d.conf],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr + d.log()
    d.pid = int(open(d.pidfile).read())
    assert bgs.wait_until(d.answers, 15)
    return r.stderr


def test_unreachable_syslog_falls_back_to_a_file(daemon_factory, tmp_path):
    need_namespaces()
    d = daemon_factory(extra={"log": "syslog"})
    said = start_in_namespace(d, tmp_path)
    assert ("syslog cannot be reached (/dev/log: No such file or directory); "
            "logging to /var/log/bgserviced.log instead") in said
    d.call("upper", b"x")
    fallback = "/proc/%d/root/var/log/bgserviced.log" % d.pid
    assert bgs.wait_until(lambda: "call upper: ok" in read(fallback)), read(fallback)
    assert re.search(STAMP + "started", read(fallback))


def test_syslog_when_reachable(daemon_factory, tmp_path):
    need_namespaces()
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(10)
    d = daemon_factory(extra={"log": "syslog:local3"})
    said = start_in_namespace(d, tmp_path, logsock=path)
    assert "syslog" not in said
    d.call("upper", b"x")
    got = []
    for _ in range(50):
        msg = rx.recv(4096).decode()
        got.append(msg)
        if "call upper: ok" in msg:
            break
    rx.close()
    # <PRI>: local3 (19) * 8 + info (6) = 158.
    assert any(re.match(r"<158>.*bgserviced\[\d+\]: .*call upper: ok", m) for m in got), got


def stat_mode(path):
    return os.stat(path).st_mode & 0o777
