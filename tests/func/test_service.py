"""How services run: exit statuses, signals, timeouts, stderr,
environment, descriptors, concurrency."""
import os
import threading

import pytest

import bgs

SH = "/bin/sh"


svc = bgs.svc


def test_failing_service_502_no_partial_output(daemon_factory):
    d = daemon_factory(services={"fail": svc("echo partial; exit 3")}).start()
    assert d.request(b"fail:x") == b"502: Service fail failed with exit status 3\n"


@pytest.mark.parametrize("workers", [0, 2])
def test_failing_service_output_never_answered_at_any_size(daemon_factory, workers):
    """A service that writes, then fails, is answered its error line only:
    below one pipe buffer, above it, and at exactly max_output; over the
    framed form and as a job too; by a process forked for the connection
    and by a reused connection worker (connection_workers)."""
    cap = 200000
    sizes = {"small": 1000, "pipe": 65536 + 1000, "exact": cap}
    services = {name: svc("head -c %d /dev/zero | tr '\\0' Q; exit 4" % n)
                for name, n in sizes.items()}
    d = daemon_factory(limits={"max_output": cap, "connection_workers": workers},
                       services=services).start()
    for name in sizes:
        want = b"502: Service %s failed with exit status 4\n" % name.encode()
        assert d.request(name.encode() + b":") == want, name
        s = d.connect()
        s.sendall(b"!call %s 0\n" % name.encode())
        code, body = bgs.read_framed(s)
        s.close()
        assert code == 502 and b"Q" not in body, (name, code, body[:80])
        jid = bgs.job_add(d, name)
        assert bgs.job_get(d, jid) == want, name


def test_killed_service_502(daemon_factory):
    d = daemon_factory(services={"die": svc("echo partial; kill -9 $$")}).start()
    ans = d.request(b"die:x")
    assert ans.startswith(b"502: Service die killed by signal 9"), ans


def test_timeout_504_kills_process_group(daemon_factory, tmp_path):
    pids = tmp_path / "pids"
    d = daemon_factory(limits={"kill_grace": 1}, services={
        "hang": svc("sleep 300 & echo $! >> %s; echo $$ >> %s; sleep 300" % (pids, pids),
                    timeout=1)}).start()
    ans = d.request(b"hang:x")
    assert ans == b"504: Service hang timed out after 1 s\n"
    listed = [int(p) for p in pids.read_text().split()]
    assert len(listed) == 2
    assert bgs.wait_until(lambda: not any(bgs.pid_alive(p) for p in listed), 10), \
        "process group survived the timeout"
    assert "service hang: timed out after 1 s" in d.log()


def test_timeout_escalates_to_kill(daemon_factory):
    d = daemon_factory(limits={"kill_grace": 1}, services={
        "stubborn": svc("trap '' TERM; sleep 300", timeout=1)}).start()
    assert d.request(b"stubborn:x") == b"504: Service stubborn timed out after 1 s\n"


def test_stderr_goes_to_log_not_caller(daemon_factory):
    d = daemon_factory(services={"noisy": svc("echo to-caller; echo secret-line >&2; "
                                              "echo second >&2")}).start()
    assert d.request(b"noisy:x") == b"to-caller\n"
    assert d.wait_log("service noisy: secret-line")
    assert "service noisy: second" in d.log()


def test_noisy_stderr_flood_does_not_block(daemon_factory):
    d = daemon_factory(services={"flood": svc("head -c 3000000 /dev/zero | tr '\\0' x >&2;"
                                              " echo done")}).start()
    assert d.request(b"flood:x") == b"done\n"


def test_output_cap_507(daemon_factory):
    d = daemon_factory(limits={"max_output": 100000}, services={
        "big": svc("head -c 10000000 /dev/zero")}).start()
    assert d.request(b"big:x") == b"507: Service big output exceeds the max_output limit\n"


def test_output_cap_is_inclusive(daemon_factory):
    """Exactly max_output bytes are an answer, whole; one more is 507."""
    d = daemon_factory(limits={"max_output": 70000}, services={
        "exact": svc("head -c 70000 /dev/zero | tr '\\0' x"),
        "over": svc("head -c 70001 /dev/zero | tr '\\0' x")}).start()
    assert d.request(b"exact:") == b"x" * 70000
    assert d.request(b"over:") == b"507: Service over output exceeds the max_output limit\n"


def test_data_never_becomes_an_argument(daemon_factory):
    d = daemon_factory(services={"echoargs": {"command": ["/bin/echo", "fixed"]}}).start()
    assert d.request(b"echoargs:-n; rm -rf / $(id)") == b"fixed\n"


def test_environment(daemon_factory):
    d = daemon_factory(services={"env": {"command": ["/usr/bin/env"]}}).start()
    with d.connect() as s:
        port = s.getsockname()[1]
        s.sendall(b"env:x")
        s.shutdown(1)
        out = bgs.recv_all(s).decode()
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["BGS_SERVICE"] == "env"
    assert env["BGS_TRANSPORT"] == "tcp"
    assert env["BGS_REMOTE_IP"] == "127.0.0.1"
    assert env["BGS_REMOTE_PORT"] == str(port)
    assert env["BGS_LOCAL_PORT"] == str(d.port)
    assert env["PATH"]
    assert set(env) <= {"PATH", "BGS_SERVICE", "BGS_TRANSPORT", "BGS_REMOTE_IP",
                        "BGS_REMOTE_PORT", "BGS_LOCAL_IP", "BGS_LOCAL_PORT"}, env
    assert "ASAN_OPTIONS" not in env


def test_no_inherited_descriptors(daemon_factory):
    d = daemon_factory(services={"fds": {"command": ["/bin/ls", "/proc/self/fd"]}}).start()
    fds = sorted(int(x) for x in d.request(b"fds:").split())
    # 0, 1, 2 and the one ls opened to read the folder.
    assert fds == [0, 1, 2, 3], fds


def test_service_in_own_session(daemon_factory):
    d = daemon_factory(services={"sid": svc("ps -o sid= -o pid= -p $$")}).start()
    sid, pid = d.request(b"sid:").split()
    assert sid == pid


def test_stdin_gets_data_exactly(daemon_factory):
    d = daemon_factory(services={"sum": {"command": ["/usr/bin/md5sum"]}}).start()
    import hashlib
    data = os.urandom(100000).replace(b"\n", b"a").replace(b" ", b"b")
    data = data.strip() or b"x"
    assert d.request(b"sum:" + data).split()[0].decode() == hashlib.md5(data).hexdigest()


def test_service_not_reading_stdin(daemon_factory):
    d = daemon_factory(services={"ignore": svc("echo ignored")}).start()
    assert d.request(b"ignore:" + b"z" * 500000) == b"ignored\n"


def test_parallel_calls(daemon_factory, tmp_path):
    # Each run records itself, waits, then reports how many had started:
    # with calls served in parallel the last ones see all of them.
    mark = tmp_path / "started"
    d = daemon_factory(services={
        "par": svc("echo x >> %s; sleep 1; cat; echo; wc -l < %s" % (mark, mark))}).start()
    results = {}

    def one(i):
        results[i] = d.request(b"par:%d" % i, timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8
    for i, ans in results.items():
        first, count = ans.split(b"\n")[:2]
        assert first == b"%d" % i
    assert max(int(a.split(b"\n")[1]) for a in results.values()) >= 4


def test_unexecutable_command_500(daemon_factory, tmp_path):
    prog = tmp_path / "prog.sh"
    prog.write_text("#!/bin/sh\necho hi\n")
    prog.chmod(0o755)
    d = daemon_factory(services={"gone": {"command": [str(prog)]}}).start()
    assert d.request(b"gone:") == b"hi\n"
    prog.unlink()
    ans = d.request(b"gone:")
    assert ans == b"500: Cannot run service gone: No such file or directory\n"
