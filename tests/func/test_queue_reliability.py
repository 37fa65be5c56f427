"""The queue under faults and load: an acknowledged job is never stuck or
lost when the master alone is killed with adds in flight, and waiting for
a job scales to a thousand callers on one job."""
import os
import random
import re
import resource
import selectors
import signal
import socket
import threading
import time

import bgs

INTERRUPTED = b"503: Job interrupted: the daemon stopped while it ran\n"


def raise_nofile(need):
    """Raise our soft RLIMIT_NOFILE towards its hard limit for NEED sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need + 64:
        target = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    assert soft == resource.RLIM_INFINITY or soft >= need + 64, \
        "RLIMIT_NOFILE hard limit %s is too low for %d sockets" % (hard, need)


def framed_add_answer(s):
    """Read the framed answer to an add: the id, or None for an error."""
    s.settimeout(30)
    code, payload = bgs.read_framed(s)
    if code != 200:
        return None
    assert re.match(rb"^[0-9a-f]{16}$", payload), payload
    return payload.decode()


def one_add(d, data):
    """A framed add of DATA on a fresh connection: its id, or None when the
    daemon refused or was down."""
    try:
        with d.connect(timeout=5) as s:
            s.sendall(b"!add echo %d\n%s" % (len(data), data))
            return framed_add_answer(s)
    except (OSError, AssertionError):
        return None


def restart(d):
    """Start D again right after a kill -9 of its master.  A child forked
    an instant before the kill holds the old master's listening socket and
    locks until it closes them, and a start in that instant fails: then it
    is tried again, three times at most."""
    for attempt in range(3):
        try:
            return d.start()
        except AssertionError as e:
            if attempt == 2:
                raise
            print("start failed, tried again:", str(e).splitlines()[-3:])
            time.sleep(0.2)


def spool_jobs(d):
    return {n[:16] for n in os.listdir(d.spool) if n.endswith(".req")}


def jobs_by_state(d):
    states = {}
    for line in d.request(b"queue:list", timeout=30).decode().splitlines():
        jid, state = line.split()[:2]
        states[jid] = state
    return states


def framed_gets(d, ids):
    """The answers to framed gets of IDS, pipelined on one connection."""
    out = {}
    with d.connect(timeout=60) as s:
        for jid in ids:
            s.sendall(b"!get " + jid.encode() + b"\n")
            code, payload = bgs.read_framed(s)
            out[jid] = (code, payload)
    return out


def test_kill9_master_alone_with_adds_in_flight(daemon_factory):
    """kill -9 of the master alone, at random moments while adds are in
    flight (some of them still being received by a child of the killed
    master while the new master starts), then a restart, 20 times: every
    acknowledged job ends done with its own output, and every job left in
    the spool was acknowledged."""
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    d = daemon_factory(limits={"max_jobs": 4, "job_retention": 3600,
                               "request_timeout": 30},
                       services={"echo": {"command": ["/bin/cat"]}}).start()
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def adder(tag):
        n = 0
        while not stop.is_set() and n < 5000:
            data = b"%s-%d" % (tag, n)
            n += 1
            jid = one_add(d, data)
            if jid is not None:
                with lock:
                    acked[jid] = data
            else:
                time.sleep(0.01)

    threads = [threading.Thread(target=adder, args=(b"bg%d" % i,)) for i in range(2)]
    for t in threads:
        t.start()
    straddled = 0
    try:
        for trial in range(20):
            # Adds whose request is only half sent when the master dies:
            # their child (of the old master) finishes them after the new
            # master has scanned the spool.
            held = []
            for k in range(3):
                data = b"held-%d-%d" % (trial, k)
                s = d.connect(timeout=30)
                s.sendall(b"!add echo %d\n%s" % (len(data), data[:4]))
                held.append((s, data))
            # Each is being read by a child (the master's backlog dies
            # with it).
            for s, _ in held:
                title = b"reading from tcp 127.0.0.1:%d" % s.getsockname()[1]
                assert bgs.wait_until(
                    lambda: titled_children(d.pid, title, exact=True), 20, 0.01)
            time.sleep(rng.uniform(0.05, 0.4))
            d.kill9()
            time.sleep(rng.uniform(0, 0.05))
            restart(d)
            for s, data in held:
                with s:
                    s.sendall(data[4:])
                    jid = framed_add_answer(s)
                if jid is not None:
                    straddled += 1
                    with lock:
                        acked[jid] = data
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert straddled > 0
    with lock:
        acked = dict(acked)
    assert len(acked) > straddled, len(acked)

    # Done, or failed: interrupted with no attempts left (retries = 0).
    finished = ("done", "failed")

    def all_done():
        states = jobs_by_state(d)
        return all(states.get(j) in finished for j in acked)
    if not bgs.wait_until(all_done, 40, 0.2):
        states = jobs_by_state(d)
        stuck = {j: states.get(j, "gone") for j in acked
                 if states.get(j) not in finished}
        raise AssertionError("%d of %d acknowledged jobs not done: %s" %
                             (len(stuck), len(acked), sorted(stuck.items())[:10]))
    answers = framed_gets(d, sorted(acked))
    interrupted = 0
    for jid, data in acked.items():
        code, payload = answers[jid]
        if (code, payload) == (503, INTERRUPTED.split(b": ", 1)[1].rstrip(b"\n")):
            interrupted += 1     # it was running when its master died
            continue
        assert (code, payload) == (200, data), (jid, code, payload, data)
    # At most max_jobs jobs were running at each kill.
    assert interrupted <= 4 * 20, interrupted
    # Nothing unacknowledged was left behind in the spool.
    assert spool_jobs(d) == set(acked), spool_jobs(d) ^ set(acked)
    assert "cannot notify the master" not in d.log()


def gated_service(gate):
    return bgs.svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=120)


def titled_children(master, prefix, at_least=0, exact=False):
    """How many children of MASTER have a process title starting with
    PREFIX (EXACT: that is PREFIX); 0 without looking when it has fewer
    than AT_LEAST children."""
    kids = bgs_children(master)
    if len(kids) < at_least:
        return 0
    n = 0
    for pid in kids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                title = f.read().split(b"\0")[0]
        except OSError:
            continue
        want = b"bgserviced: " + prefix
        n += title == want if exact else title.startswith(want)
    return n



def waiting_children(master, at_least=0):
    """Children of MASTER that wait for a job."""
    return titled_children(master, b"waiting for job", at_least)


def bgs_children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def open_waiters(d, jid, n):
    """N connections each asking queue:get for JID; returns the sockets."""
    socks = []
    for _ in range(n):
        s = d.connect(timeout=30)
        s.sendall(b"queue:get:id:" + jid.encode())
        s.shutdown(socket.SHUT_WR)
        socks.append(s)
    return socks


def wait_all_waiting(d, socks, timeout):
    """Until every one of SOCKS is served by a child that waits for the
    job; fails at once if one of them is answered before the job is done."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    try:
        deadline = time.monotonic() + timeout
        while waiting_children(d.pid, len(socks)) < len(socks):
            ready = sel.select(0)
            if ready:
                s = ready[0][0].fileobj
                raise AssertionError("%d waiters answered before the job was done, "
                                     "e.g. %r" % (len(ready), s.recv(200)))
            assert time.monotonic() < deadline, \
                "%d of %d waiting" % (waiting_children(d.pid), len(socks))
            time.sleep(0.5)
    finally:
        sel.close()


def read_answers(socks, timeout):
    """Each socket's bytes up to EOF, within TIMEOUT seconds in all."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        got[s] = b""
    open_ = len(socks)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                b = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                b = b""
            if b:
                got[s] += b
            else:
                sel.unregister(s)
                open_ -= 1
    sel.close()
    for s in socks:
        s.close()
    return list(got.values())


def test_thousand_waiters_on_one_job(daemon_factory, tmp_path):
    n = 1000
    raise_nofile(n)
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_connections": 2000, "max_per_source": 2000,
                               "max_jobs": 1},
                       services={"wait": gated_service(gate)}).start()
    ans = d.request(b"queue:add:wait:many waiters")
    m = re.match(rb"^id:([0-9a-f]{16})$", ans)
    assert m, ans
    jid = m.group(1).decode()
    socks = open_waiters(d, jid, n)
    try:
        wait_all_waiting(d, socks, 120)
    except AssertionError:
        for s in socks:
            s.close()
        raise
    gate.write_text("go")
    answers = read_answers(socks, 60)
    wrong = [a for a in answers if a != b"many waiters"]
    assert not wrong, "%d of %d waiters answered wrongly, e.g. %r" % (
        len(wrong), n, wrong[:3])


def test_many_waiters_answered_503_when_the_daemon_stops(daemon_factory, tmp_path):
    n = 200
    raise_nofile(n)
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_connections": 500, "max_per_source": 500,
                               "kill_grace": 1},
                       services={"wait": gated_service(gate)}).start()
    ans = d.request(b"queue:add:wait:x")
    jid = re.match(rb"^id:([0-9a-f]{16})$", ans).group(1).decode()
    socks = open_waiters(d, jid, n)
    try:
        wait_all_waiting(d, socks, 60)
    except AssertionError:
        for s in socks:
            s.close()
        raise
    d.signal(signal.SIGTERM)
    answers = read_answers(socks, 30)
    d.stop()
    wrong = [a for a in answers if a != b"503: The daemon is shutting down\n"]
    assert not wrong, "%d of %d: %r" % (len(wrong), n, wrong[:3])


def test_waiter_of_a_killed_master_answers_503(daemon_factory, tmp_path):
    """A waiter whose master died answers 503 at once (no master is left to
    wake it); the job itself runs after the restart."""
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1},
                       services={"wait": gated_service(gate)}).start()
    first = re.match(rb"^id:(\w{16})$", d.request(b"queue:add:wait:a")).group(1)
    second = re.match(rb"^id:(\w{16})$", d.request(b"queue:add:wait:b")).group(1)
    socks = open_waiters(d, second.decode(), 1)
    assert bgs.wait_until(lambda: waiting_children(d.pid) >= 1, 20, 0.05)
    d.kill9()
    assert read_answers(socks, 10) == [b"503: The daemon is shutting down\n"]
    gate.write_text("go")
    d.start()
    assert d.request(b"queue:get:id:" + first, timeout=30) == INTERRUPTED
    assert d.request(b"queue:get:id:" + second, timeout=30) == b"b"


def test_stray_bytes_in_the_notify_fifo_cost_no_job(daemon_factory):
    # A service allowed to write to the spool could write into its FIFO;
    # the notes children write after that must still be read, even when
    # the master reads the stray bytes and a note in one go (it is
    # stopped while both are written).
    d = daemon_factory().start()
    fifo = os.path.join(d.spool, "notify")
    for junk in (b"junk", b"more junk\n", b"\n"):
        with d.connect(timeout=30) as s:
            s.sendall(b"!helo\n")          # the child exists now
            assert bgs.read_framed(s) == (200, b"oleh")
            os.kill(d.pid, signal.SIGSTOP)
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.write(fd, junk)
                os.close(fd)
                s.sendall(b"!add upper 10\nstill here")
                code, jid = bgs.read_framed(s)
            finally:
                os.kill(d.pid, signal.SIGCONT)
        assert code == 200, jid
        assert d.request(b"queue:get:id:" + jid, timeout=30) == b"STILL HERE"
    assert "stray bytes in the notify FIFO" in d.log()
