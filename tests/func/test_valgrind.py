"""The plain build of bgserviced under valgrind's memcheck: a mix of
requests, a good and a bad SIGHUP reload, then SIGTERM.  The master must
exit 0 with no memory error, no definite or indirect leak and no
descriptor left open at exit beyond the standard ones.

Valgrind follows the master and, since fork() does not leave valgrind,
every connection child too (until it execs a service: --trace-children=no
leaves the services alone).  Every process's report must be free of
errors, definite and indirect leaks included (--errors-for-leak-kinds);
memory still reachable at _exit() is not a leak.  Descriptors are judged
in the master only: a connection child exits holding its socket, the
spool's lock and the queue's FIFO, and the kernel closes them.

Valgrind writes to the daemon's standard error (its log under -f), each
line prefixed "==PID==".  Not with -q: then a clean process says nothing
at all, which cannot be told from a report that never came; without it
every process ends with an ERROR SUMMARY, which is what is checked.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import bgs

# Any of these in a report is an error, whatever the summary says.
ERROR_MARKS = ("Invalid read", "Invalid write", "Invalid free",
               "uninitialised", "Conditional jump", "Mismatched free",
               "Syscall param", "Source and destination overlap",
               "in loss record", "Process terminating with default action")
DEADLINE = 90       # seconds for the whole test, the daemon killed after


def valgrind():
    path = shutil.which("valgrind")
    assert path, "valgrind is not installed: apt-get install valgrind"
    return path


def vg_command(d):
    return [valgrind(), "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--track-fds=yes", "--trace-children=no",
            d.bin, "-f", "-c", d.conf]


def reports(log):
    """{pid: text} of valgrind's reports in the daemon's log."""
    out = {}
    for m in re.finditer(r"^==(\d+)== ?(.*)$", log, re.M):
        out.setdefault(int(m.group(1)), []).append(m.group(2))
    return {pid: "\n".join(lines) for pid, lines in out.items()}


def open_fds(report):
    """The descriptors valgrind lists as open at exit, but 0, 1 and 2
    ("Open file descriptor 4: ...", "Open AF_INET socket 10: ...")."""
    fds = re.findall(r"^Open .*?(?:descriptor|socket) (\d+)", report, re.M)
    return sorted({int(fd) for fd in fds} - {0, 1, 2})


def lost(report, kind):
    """Bytes of KIND ("definitely", "indirectly") in the LEAK SUMMARY."""
    m = re.search(kind + r" lost: ([\d,]+) bytes", report)
    return int(m.group(1).replace(",", "")) if m else 0


def framed(verb, arg, payload=b""):
    head = "!" + verb + (" " + arg if arg else "") + " %d\n" % len(payload)
    return head.encode() + payload


def request_mix(d, tmp_path):
    """Every kind of request; each answer is checked, so that a daemon
    broken under valgrind does not pass for a clean one."""
    r = d.request
    assert r(b"upper:hello") == b"HELLO"
    assert r(b"upper") == b""
    assert r(b"nosuch:x") == b"400: Unknown request\n"
    assert r(b"\x00\xff\x01garbage\r\n:::").startswith(b"400: ")
    assert r(b"helo") == b"oleh"
    assert r(b"hello") == b"olleh"
    assert r(b"helo", shutdown=False) == b"oleh"
    # The PHP caller's way: no shutdown, the quiet period ends it.
    assert r(b"upper:quiet", shutdown=False) == b"QUIET"

    # Framed: one, several on one connection, binary, a bad header.
    assert r(b"!call upper 5\nhello") == b"!200 5\nHELLO"
    with d.connect() as s:
        s.sendall(framed("helo", None) + framed("call", "upper", b"hi") +
                  framed("call", "echo", b"a\x00b\n!") +
                  framed("call", "nosuch", b"x") + framed("hello", None))
        assert bgs.read_framed(s) == (200, b"oleh")
        assert bgs.read_framed(s) == (200, b"HI")
        assert bgs.read_framed(s) == (200, b"a\x00b\n!")
        assert bgs.read_framed(s) == (400, b"Unknown request")
        assert bgs.read_framed(s) == (200, b"olleh")
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b""
    ans = r(b"!bogus 0\n!helo\n")
    assert ans.startswith(b"!400 "), ans
    assert r(b"!call upper 99\nshort").startswith(b"!400 ")

    # A 200 kB payload, framed and original.
    big = bytes(range(256)) * 800
    with d.connect(timeout=30) as s:
        s.sendall(framed("call", "echo", big))
        s.shutdown(socket.SHUT_WR)
        assert bgs.read_framed(s) == (200, big)
    assert d.request(b"echo:" + big, timeout=30) == big

    # The queue.
    ans = r(b"queue:add:upper:queued")
    m = bgs.ID_RE.match(ans)
    assert m, ans
    jid = m.group(1)
    assert r(b"queue:get:id:" + jid) == b"QUEUED"
    assert r(b"queue:check:id:" + jid) == b"2"
    assert r(b"queue:info:id:" + jid) != b""
    assert jid in r(b"queue:list")
    assert r(b"queue:cancel:id:0123456789abcdef").startswith(b"404: ")
    assert r(b"queue:check:id:0123456789abcdef").startswith(b"404: ")
    assert r(b"queue:frob:id:" + jid).startswith(b"500: ")
    with d.connect() as s:
        s.sendall(framed("add", "echo", b"framed job"))
        code, fid = bgs.read_framed(s)
        assert code == 200 and re.match(rb"^[0-9a-f]{16}$", fid), fid
        s.sendall(framed("get", fid.decode()))
        assert bgs.read_framed(s) == (200, b"framed job")
        s.sendall(framed("info", fid.decode()))
        assert bgs.read_framed(s)[0] == 200

    # UDP: one that runs, one that is dropped.
    mark = tmp_path / "udp.out"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"mark:by udp", ("127.0.0.1", d.port))
        u.sendto(b"\x00garbage", ("127.0.0.1", d.port))
    assert bgs.wait_until(lambda: mark.exists() and
                          mark.read_bytes() == b"by udp", 30), d.log()
    assert d.wait_log("dropped: not a service call", 30), d.log()


def reload_good_and_bad(d):
    d.settings["services"]["lower"] = {"command": ["/usr/bin/tr", "A-Z", "a-z"]}
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: d.request(b"lower:ABC") == b"abc", 30), d.log()

    good = open(d.conf).read()
    d.write_config("services = { this is not libconfig\n")
    d.signal(signal.SIGHUP)
    assert d.wait_log("reload failed", 30), d.log()
    assert d.request(b"lower:DEF") == b"def"
    d.write_config(good)
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: d.log().count("configuration reloaded") >= 2,
                          30), d.log()
    assert d.request(b"upper:again") == b"AGAIN"


@pytest.mark.parametrize("workers", [0, 2])
def test_valgrind_request_mix(tmp_path, workers):
    # With workers, connections are handed to them (pool.c): the handoff
    # once sent the bytes of the caller's address that accept(2) had not
    # written (valgrind: sendmsg points to uninitialised bytes).
    started = time.monotonic()
    d = bgs.Daemon(tmp_path, build="plain",
                   limits={"request_idle_ms": 500, "request_timeout": 30,
                           "kill_grace": 5, "connection_workers": workers})
    d.settings["services"]["mark"] = {
        "command": ["/bin/sh", "-c", "cat > %s" % (tmp_path / "udp.out")]}
    d.write_config()
    assert os.access(d.bin, os.X_OK), "%s is not built: run 'make all'" % d.bin

    with open(d.logfile, "ab") as log:
        proc = subprocess.Popen(vg_command(d),
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, close_fds=True)
    d.proc, d.pid = proc, proc.pid
    try:
        assert bgs.wait_until(d.answers, 60, 0.2), \
            "no oleh under valgrind:\n" + d.log()
        request_mix(d, tmp_path)
        reload_good_and_bad(d)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=max(10, DEADLINE - (time.monotonic() - started)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        d.pid = None

    log = d.log()
    vg = reports(log)
    assert rc != 99, "valgrind found errors (exit 99):\n" + log
    assert rc == 0, "exit %d:\n%s" % (rc, log)
    assert "stopped" in log, log
    master = vg.get(proc.pid, "")
    assert "ERROR SUMMARY:" in master, "no report from the master:\n" + log
    for pid, text in vg.items():
        for mark in ERROR_MARKS:
            assert mark not in text, "valgrind, pid %d: %s:\n%s" % (pid, mark, log)
        if "ERROR SUMMARY:" in text:
            assert "ERROR SUMMARY: 0 errors" in text, \
                "valgrind, pid %d:\n%s" % (pid, log)
    assert lost(master, "definitely") == 0 and \
        lost(master, "indirectly") == 0, master
    assert open_fds(master) == [], \
        "descriptors open at exit in the master:\n" + master
    assert time.monotonic() - started < DEADLINE
