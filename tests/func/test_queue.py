"""The job queue: verbs, order, max_jobs, recovery after SIGTERM and
kill -9, retention, cancel, waiting without CPU, the client's verbs."""
import os
import re
import signal
import socket
import struct
import threading
import time

import bgs

SH = "/bin/sh"
svc = bgs.svc
add = bgs.job_add
check = bgs.job_check
get = bgs.job_get
wait_state = bgs.job_wait_state


def test_add_check_get(daemon_factory):
    d = daemon_factory(services={"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]}}).start()
    jid = add(d, "upper", b"queued data")
    assert check(d, jid) in (b"0", b"1", b"2")
    assert get(d, jid) == b"QUEUED DATA"
    assert check(d, jid) == b"2"
    # A job can be fetched again until it expires.
    assert get(d, jid) == b"QUEUED DATA"


def test_php_style_queue_calls(daemon_factory):
    # The PHP caller never shuts down its side; check and get are complete
    # by their grammar, add ends with the quiet period.
    d = daemon_factory(limits={"request_idle_ms": 100, "request_timeout": 30}).start()
    jid = add(d, "upper", b"php", shutdown=False)
    with d.connect(timeout=5) as s:
        s.sendall(b"queue:get:id:" + jid.encode())
        assert bgs.recv_all(s) == b"PHP"
    with d.connect(timeout=5) as s:
        s.sendall(b"queue:check:id:" + jid.encode())
        assert bgs.recv_all(s) == b"2"


def test_states_queued_running_done(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60)}).start()
    first = add(d, "wait", b"one")
    second = add(d, "wait", b"two")
    assert wait_state(d, first, b"1")
    assert check(d, second) == b"0"
    gate.write_text("go")
    assert get(d, first) == b"one"
    assert get(d, second) == b"two"


def test_failed_job_answers_like_a_call(daemon_factory):
    d = daemon_factory(services={"fail": svc("echo partial; exit 5")}).start()
    direct = d.request(b"fail:x")
    jid = add(d, "fail", b"x")
    assert get(d, jid) == direct == b"502: Service fail failed with exit status 5\n"
    assert check(d, jid) == b"2"


def test_unknown_ids_and_verbs(daemon):
    unknown = "0123456789abcdef"
    for verb in (b"check", b"get", b"info", b"cancel"):
        assert daemon.request(b"queue:%s:id:%s" % (verb, unknown.encode())) == \
            b"404: Unknown job id\n", verb
    assert daemon.request(b"queue:check:id:nothex") == b"404: Unknown job id\n"
    assert daemon.request(b"queue:check:id:../../etc/passwd") == b"404: Unknown job id\n"
    assert daemon.request(b"queue:frob:id:" + unknown.encode()) == b"500: Unknown queue request\n"
    assert daemon.request(b"queue:check:" + unknown.encode()) == b"500: Unknown queue request\n"
    assert daemon.request(b"queue:add:nosuch:x") == b"400: Unknown request\n"


def test_ids_are_random(daemon_factory):
    d = daemon_factory(services={"ok": {"command": ["/bin/true"]}}).start()
    ids = [int(add(d, "ok"), 16) for _ in range(20)]
    assert len(set(ids)) == 20
    # Not a counter: consecutive ids are far apart.
    assert all(abs(a - b) > 1 << 32 for a, b in zip(ids, ids[1:]))


intervals = bgs.intervals


def test_max_jobs_one_never_overlaps_and_keeps_order(daemon_factory, tmp_path):
    log = tmp_path / "spans"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "slow": svc('n=$(cat); echo "start $n $(date +%%s.%%N)" >> %s; sleep 0.4; '
                    'echo "end $n $(date +%%s.%%N)" >> %s; echo $n' % (log, log))}).start()
    ids = [add(d, "slow", b"job%d" % i) for i in range(3)]
    for i, jid in enumerate(ids):
        assert get(d, jid).strip() == b"job%d" % i
    bgs.assert_serial(intervals(log), ["job0", "job1", "job2"])


def test_max_jobs_two_runs_two_at_once(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 2}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60)}).start()
    ids = [add(d, "wait", b"%d" % i) for i in range(3)]
    assert wait_state(d, ids[0], b"1") and wait_state(d, ids[1], b"1")
    time.sleep(0.3)
    assert check(d, ids[2]) == b"0"
    gate.write_text("go")
    assert [get(d, j) for j in ids] == [b"0", b"1", b"2"]


def test_queued_jobs_survive_sigterm_restart(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1, "kill_grace": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60)}).start()
    running = add(d, "wait", b"r")
    queued = [add(d, "wait", b"q%d" % i) for i in range(3)]
    assert wait_state(d, running, b"1")
    d.stop()
    jobs = os.listdir(d.spool)
    assert all(q + ".req" in jobs for q in queued)
    gate.write_text("go")
    d.start()
    assert get(d, running) == b"503: Job interrupted: the daemon stopped while it ran\n"
    assert [get(d, q) for q in queued] == [b"q0", b"q1", b"q2"]


def test_detached_daemon_runs_jobs(daemon_factory):
    """Detached, as the init script and systemd start it, jobs run: the
    runners' master is the detached process, not the one started."""
    d = daemon_factory(limits={"max_jobs": 2}).start(foreground=False)
    assert d.proc is None
    ids = [add(d, "upper", b"job%d" % i) for i in range(5)]
    assert [get(d, i, timeout=20) for i in ids] == [b"JOB%d" % i for i in range(5)]
    d.stop()


def test_kill9_loses_no_job_and_none_stays_running(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    pidf = tmp_path / "svc.pid"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("echo $$ > %s; while [ ! -e %s ]; do sleep 0.05; done; cat"
                    % (pidf, gate), timeout=60)}).start()
    running = add(d, "wait", b"r")
    queued = [add(d, "wait", b"q%d" % i) for i in range(3)]
    assert wait_state(d, running, b"1")
    assert bgs.wait_until(lambda: pidf.exists() and pidf.read_text().strip(), 10)
    svc_pid = int(pidf.read_text())
    d.kill9()
    # The runner dies with its master and takes its service along.
    assert bgs.wait_until(lambda: not bgs.pid_alive(svc_pid), 10)
    pidf.unlink()
    gate.write_text("go")
    d.start()
    assert check(d, running) == b"2"
    assert get(d, running) == b"503: Job interrupted: the daemon stopped while it ran\n"
    assert [get(d, q) for q in queued] == [b"q0", b"q1", b"q2"]


def test_kill9_while_adding_leaves_jobs_whole(daemon_factory):
    d = daemon_factory(limits={"max_jobs": 2}, services={"echo": {"command": ["/bin/cat"]}}).start()
    acked = []
    stop = threading.Event()

    def adder():
        n = 0
        while not stop.is_set() and n < 2000:
            try:
                acked.append((add(d, "echo", b"payload-%d" % n), b"payload-%d" % n))
            except (OSError, AssertionError):
                return
            n += 1

    t = threading.Thread(target=adder)
    t.start()
    time.sleep(0.5)
    d.kill9()
    stop.set()
    t.join(30)
    assert acked
    d.start()
    # Every acknowledged job is whole: it ran, or runs now, and answers
    # its own data; only those running at the kill (max_jobs of them at
    # most) are done as interrupted.
    interrupted = 0
    for jid, data in acked[-50:]:
        ans = get(d, jid)
        if ans == b"503: Job interrupted: the daemon stopped while it ran\n":
            interrupted += 1
        else:
            assert ans == data
    assert interrupted <= 2
    # No temp file or half job is left.
    for name in os.listdir(d.spool):
        assert not name.startswith(".tmp-"), name


def test_retention_removes_finished_jobs(daemon_factory):
    d = daemon_factory(limits={"job_retention": 1}).start()
    jid = add(d, "upper", b"x")
    assert get(d, jid) == b"X"
    assert bgs.wait_until(lambda: check(d, jid) == b"404: Unknown job id\n", 10)
    assert bgs.wait_until(lambda: not [n for n in os.listdir(d.spool) if n.startswith(jid)], 5)
    assert d.wait_log("finished jobs expired")


def test_retention_after_restart(daemon_factory):
    d = daemon_factory(limits={"job_retention": 2}).start()
    jid = add(d, "upper", b"x")
    assert get(d, jid) == b"X"
    d.stop()
    d.start()
    assert check(d, jid) == b"2"
    assert bgs.wait_until(lambda: check(d, jid) == b"404: Unknown job id\n", 10)


def test_many_jobs_distinct_ids_all_finish(daemon_factory):
    d = daemon_factory(limits={"max_jobs": 4}, services={"echo": {"command": ["/bin/cat"]}}).start()
    ids = {}
    for i in range(500):
        jid = add(d, "echo", b"%d" % i)
        assert jid not in ids
        ids[jid] = b"%d" % i
    for jid, data in ids.items():
        assert get(d, jid, timeout=120) == data


def test_info(daemon_factory):
    d = daemon_factory(services={"fail": svc("sleep 0.2; exit 7")}).start()
    jid = add(d, "fail", b"x")
    get(d, jid)
    info = bgs.job_info(d, jid)
    assert info["id"] == jid and info["service"] == "fail"
    # It did not succeed, and has no attempts left: failed, done (2).
    assert info["state"] == "failed" and info["status"] == "2"
    assert info["attempts"] == "1/1"
    assert info["result"] == "exit 7" and info["code"] == "502"
    assert info["message"] == "Service fail failed with exit status 7"
    assert int(info["runtime_ms"]) >= 150
    for k in ("submitted", "started", "ended"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", info[k]), info


def test_cancel_queued_job_never_runs(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    ran = tmp_path / "ran"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60),
        "mark": svc("touch %s" % ran)}).start()
    blocker = add(d, "wait", b"b")
    victim = add(d, "mark")
    assert wait_state(d, blocker, b"1")
    assert d.request(b"queue:cancel:id:" + victim.encode()) == b"cancelled"
    assert check(d, victim) == b"2"
    assert get(d, victim) == b"410: Job cancelled\n"
    gate.write_text("go")
    assert get(d, blocker) == b"b"
    time.sleep(0.5)
    assert not ran.exists()
    assert d.request(b"queue:cancel:id:" + victim.encode()) == b"409: Job already done\n"


def test_cancel_running_job_kills_it(daemon_factory, tmp_path):
    pidf = tmp_path / "pid"
    d = daemon_factory(services={"hang": svc("echo $$ > %s; exec sleep 300" % pidf,
                                             timeout=0)}).start()
    jid = add(d, "hang")
    assert bgs.wait_until(lambda: pidf.exists() and pidf.read_text().strip(), 10)
    pid = int(pidf.read_text())
    assert d.request(b"queue:cancel:id:" + jid.encode()) == b"cancelled"
    assert get(d, jid) == b"410: Job cancelled\n"
    assert bgs.wait_until(lambda: not bgs.pid_alive(pid), 10)


def test_list(daemon_factory):
    d = daemon_factory().start()
    a = add(d, "upper", b"a")
    get(d, a)
    lines = d.request(b"queue:list").decode().splitlines()
    assert any(l.startswith(a + " done upper ") for l in lines), lines


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_waiting_costs_no_cpu(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.5; done; cat" % gate, timeout=60)}).start()
    first = add(d, "wait", b"1")
    second = add(d, "wait", b"2")   # waits for a slot
    assert wait_state(d, first, b"1")
    s = d.connect(timeout=30)
    s.sendall(b"queue:get:id:" + second.encode())
    time.sleep(0.3)
    before_kids = set(bgs.child_pids(d.pid))
    waiters = list(before_kids)
    t0 = {p: cpu_ticks(p) for p in waiters + [d.pid]}
    time.sleep(1.5)
    t1 = {p: cpu_ticks(p) for p in t0 if bgs.pid_alive(p)}
    # No process polls: neither the master nor the waiting connection.
    assert t1[d.pid] - t0[d.pid] <= 1
    for p in waiters:
        if p in t1:
            assert t1[p] - t0[p] <= 1, (p, t0[p], t1[p])
    gate.write_text("go")
    assert bgs.recv_all(s) == b"2"
    s.close()


def test_framed_queue_verbs(daemon):
    with daemon.connect() as s:
        s.sendall(b"!add upper 3\nabc")
        hdr = b""
        while not hdr.endswith(b"\n"):
            hdr += s.recv(1)
        assert hdr == b"!200 16\n"
        jid = s.recv(16)
        s.sendall(b"!get " + jid + b"\n")
        assert bgs.recv_exact(s, 9) == b"!200 3\nABC"[:9]
        s.sendall(b"!check " + jid + b"\n")
        s.shutdown(1)
        rest = bgs.recv_all(s)
    assert rest == b"C!200 1\n2"


def test_client_queue_verbs(daemon_factory):
    d = daemon_factory(services={"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
                                 "fail": svc("exit 3")}).start()
    r = d.run_client("add", "upper", "client job")
    assert r.returncode == 0 and re.match(rb"^[0-9a-f]{16}\n$", r.stdout), r
    jid = r.stdout.strip().decode()
    r = d.run_client("get", jid)
    assert (r.returncode, r.stdout) == (0, b"CLIENT JOB")
    r = d.run_client("status", jid)
    assert (r.returncode, r.stdout) == (0, b"2\n")
    r = d.run_client("info", jid)
    assert r.returncode == 0 and b"state done" in r.stdout
    r = d.run_client("jobs")
    assert r.returncode == 0 and jid.encode() in r.stdout
    r = d.run_client("cancel", jid)
    assert r.returncode == 2 and b"409: Job already done" in r.stderr
    r = d.run_client("add", "fail", input=b"")
    fid = r.stdout.strip().decode()
    r = d.run_client("get", fid)
    assert r.returncode == 1 and b"502: Service fail failed with exit status 3" in r.stderr
    r = d.run_client("status", "0123456789abcdef")
    assert r.returncode == 2 and b"404: Unknown job id" in r.stderr
    r = d.run_client("get", "nope")
    assert r.returncode == 2 and b"not a job id" in r.stderr


def test_waiter_whose_caller_left_ends(daemon_factory, tmp_path):
    """A queue:get whose caller hangs up stops waiting at once: on TCP
    when the caller's kernel resets the connection, on a UNIX socket when
    the caller closes it; its child is gone and the log says so.  A
    caller that only shut down its sending side (nc -N), or that says
    nothing more, still gets the answer when the job is done."""
    gate = tmp_path / "gate"
    sock = str(tmp_path / "bgs.sock")
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate,
                    timeout=60)})
    d.settings["listen"].append({"path": sock})
    d.write_config()
    d.start()
    jid = add(d, "wait", b"done")
    assert wait_state(d, jid, b"1")
    # The job's runner only, once the children of the checks are gone.
    assert bgs.wait_until(lambda: len(bgs.child_pids(d.pid)) == 1, 10)
    runner = set(bgs.child_pids(d.pid))
    req = b"queue:get:id:" + jid.encode()
    for _ in range(4):                      # TCP, then a reset
        s = d.connect()
        s.sendall(req)
        assert bgs.wait_until(
            lambda: len(bgs.child_pids(d.pid)) == len(runner) + 1, 10), \
            (runner, bgs.child_pids(d.pid), d.log()[-2000:])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
    assert bgs.wait_until(lambda: os.path.exists(sock), 10)
    with socket.socket(socket.AF_UNIX) as u:  # UNIX, then a close
        u.settimeout(10)
        u.connect(sock)
        u.sendall(req)
        assert bgs.wait_until(
            lambda: len(bgs.child_pids(d.pid)) == len(runner) + 1, 10)
    assert bgs.wait_until(
        lambda: set(bgs.child_pids(d.pid)) == runner, 10), \
        bgs.child_pids(d.pid)
    assert bgs.wait_until(
        lambda: d.log().count("the caller left while it waited") == 5, 10)
    half = d.connect(timeout=30)
    half.sendall(req)
    half.shutdown(socket.SHUT_WR)
    quiet = d.connect(timeout=30)
    quiet.sendall(req)
    assert bgs.wait_until(
        lambda: len(bgs.child_pids(d.pid)) == len(runner) + 2, 10)
    time.sleep(0.3)
    assert len(bgs.child_pids(d.pid)) == len(runner) + 2
    gate.write_text("go")
    assert bgs.recv_all(half) == b"done"
    assert bgs.recv_all(quiet) == b"done"
    half.close()
    quiet.close()
