"""The queue's schedule through the real daemon: priorities (highest
first, then arrival), delays and run-at times (not early, on time, kept
across a restart), retries with backoff whose attempt count survives a
kill -9 of the daemon, dead letters (state failed) and their retry by
hand (queue:retry, framed retry, bgservice retry)."""
import os
import random
import re
import time

import bgs


def framed(d, head, data=b""):
    """One framed request HEAD (without its "!"), its (code, payload)."""
    with d.connect(timeout=10) as s:
        s.sendall(b"!" + head + b"\n" + data)
        return bgs.read_framed(s)


def framed_add(d, service, data, *opts):
    code, jid = framed(d, b"add %s %d %s" % (service.encode(), len(data),
                                            " ".join(opts).encode()), data)
    assert code == 200, (code, jid)
    return jid.decode()


def restart(d):
    """Start D again after a kill -9 (see test_queue_reliability.py: a
    child of the killed master may hold its socket for an instant)."""
    for attempt in range(3):
        try:
            return d.start()
        except AssertionError:
            if attempt == 2:
                raise
            time.sleep(0.2)


def log_lines(path):
    try:
        with open(path) as f:
            return [ln.split() for ln in f.read().splitlines() if ln]
    except FileNotFoundError:
        return []


def stamped(log):
    """A service that appends "DATA EPOCH-SECONDS" to LOG, then exits 0.
    The time is bash's $EPOCHREALTIME, read first thing: the moment the
    service started, not that plus the fork and exec of cat and date,
    which on a loaded machine are a good part of the 100 ms allowed."""
    return {"command": ["/bin/bash", "-c",
                        't=$EPOCHREALTIME; x=$(cat); echo "$x $t" >> %s'
                        % log]}


def on_time(build):
    """How late a due job may start, to its service's own clock: the
    issue's 100 ms; 500 ms under ASan, whose fork and exec alone take
    a good part of that on a loaded machine."""
    return 0.1 if build == "plain" else 0.5


def wait_done(d, jid, timeout=30):
    assert bgs.job_wait_state(d, jid, b"2", timeout), bgs.job_info(d, jid)
    return bgs.job_info(d, jid)


def test_priorities_run_highest_first_then_in_arrival(daemon_factory, tmp_path):
    """max_jobs = 1, a blocker running: then jobs of priorities 1, 10, 5,
    the service's default (3, by the original form) and 10 again run in
    the order 10, 10 (the earlier first), 5, 3, 1."""
    log = tmp_path / "order"
    script = 'x=$(cat); echo "$x" >> %s; [ "$x" != blocker ] || sleep 1' % log
    d = daemon_factory(limits={"max_jobs": 1},
                       services={"w": bgs.svc(script, priority=3)}).start()
    block = bgs.job_add(d, "w", b"blocker")
    assert bgs.job_wait_state(d, block, b"1")
    ids = [framed_add(d, "w", b"low", "priority=1"),
           framed_add(d, "w", b"high", "priority=10"),
           framed_add(d, "w", b"mid", "priority=5"),
           bgs.job_add(d, "w", b"default"),
           framed_add(d, "w", b"high2", "priority=10")]
    assert bgs.job_check(d, ids[0]) == b"0"
    for jid in ids:
        wait_done(d, jid)
    assert [ln[0] for ln in log_lines(log)] == \
        ["blocker", "high", "high2", "mid", "default", "low"]
    # The client's -p is the same option.
    r = d.run_client("add", "-p", "7", "-d", "0", "w", "client")
    assert r.returncode == 0, r.stderr
    wait_done(d, r.stdout.decode().strip())
    assert log_lines(log)[-1] == ["client"]
    r = d.run_client("add", "-d", "5", "-a", "2000000000", "w", "x")
    assert r.returncode == 100 and b"exclude" in r.stderr, r


def test_delay_and_at_not_early_and_on_time(daemon_factory, tmp_path, build):
    """delay=1 runs no earlier than a second after its submission and
    within 100 ms of that time; at= a second ahead likewise; at= in the
    past runs at once; meanwhile the job is queued (status 0)."""
    log = tmp_path / "stamps"
    d = daemon_factory(services={"w": stamped(log)}).start()
    late = framed_add(d, "w", b"delayed", "delay=1")
    at = int(time.time()) + 2
    abs_ = framed_add(d, "w", b"at", "at=%d" % at)
    past = framed_add(d, "w", b"past", "at=1000")
    wait_done(d, past, 5)
    assert bgs.job_check(d, late) == b"0"
    assert bgs.job_info(d, late)["state"] == "queued"
    info = wait_done(d, late)
    wait_done(d, abs_)
    ran = {ln[0]: float(ln[1]) for ln in log_lines(log)}
    submitted = iso_epoch(info["submitted"])
    # Its time: a second after its submission (to the millisecond).
    assert ran["delayed"] >= submitted + 1.0 - 0.002, (ran, submitted)
    assert ran["delayed"] <= submitted + 1.0 + on_time(build), \
        (ran, submitted)
    assert at <= ran["at"] <= at + on_time(build), (ran, at)
    assert ran["past"] < ran["delayed"]


def iso_epoch(text):
    """2026-11-28T06:48:18.950Z as epoch seconds."""
    import calendar
    base, ms = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + \
        int(ms) / 1000


def test_delay_kept_across_a_restart(daemon_factory, tmp_path, build):
    """A job delayed 3 s, the daemon stopped and started again before it
    is due: it runs at its time, not early (nor at the restart)."""
    log = tmp_path / "stamps"
    d = daemon_factory(services={"w": stamped(log)}).start()
    jid = framed_add(d, "w", b"later", "delay=3")
    submitted = iso_epoch(bgs.job_info(d, jid)["submitted"])
    d.stop()
    time.sleep(0.5)
    d.start()
    assert bgs.job_check(d, jid) == b"0"
    wait_done(d, jid)
    ran = float(log_lines(log)[0][1])
    assert submitted + 3.0 - 0.002 <= ran <= \
        submitted + 3.0 + on_time(build), (ran, submitted)


def counting(log, succeed_at=None, how="exit 3"):
    """A service that logs "DATA TIME" per run and fails (HOW), or
    succeeds from its SUCCEED_AT-th run of that data on."""
    ok = "" if succeed_at is None else \
        '[ "$(grep -c "^$x " %s)" -ge %d ] && exit 0; ' % (log, succeed_at)
    return bgs.svc('x=$(cat); echo "$x $(date +%%s.%%N)" >> %s; %s%s'
                   % (log, ok, how))


def test_fails_twice_then_succeeds_with_backoff(daemon_factory, tmp_path):
    """retries = 3, retry_delay = 1, retry_backoff = 2: two failures, then
    a success; info says attempts 3/4 (attempts made / most allowed), and
    the retries waited 1 s and 2 s, give or take the 10% jitter."""
    log = tmp_path / "runs"
    d = daemon_factory(services={"w": dict(counting(log, 3), retries=3,
                                           retry_delay=1, retry_backoff=2)}
                       ).start()
    jid = bgs.job_add(d, "w", b"j")
    assert bgs.job_info(d, jid)["attempts"] in ("0/4", "1/4")
    info = wait_done(d, jid)
    assert info["state"] == "done" and info["code"] == "200", info
    assert info["attempts"] == "3/4", info
    t = [float(ln[1]) for ln in log_lines(log)]
    assert len(t) == 3, t
    assert 0.9 <= t[1] - t[0] <= 1.1 + 0.25, t
    assert 1.8 <= t[2] - t[1] <= 2.2 + 0.25, t


def test_dead_letter_retried_by_hand(daemon_factory, tmp_path):
    """A job that always fails, retries = 1: after 2 attempts it is failed
    (a dead letter: info and list say so, check says 2, get its error),
    kept; queue:retry, the framed retry and bgservice retry each queue it
    again with a fresh count, and it runs again.  A job that did not fail
    cannot be retried (409), an unknown one is 404."""
    log = tmp_path / "runs"
    d = daemon_factory(services={"w": dict(counting(log), retries=1,
                                           retry_delay=0),
                                 "echo": {"command": ["/bin/cat"]}}).start()
    jid = bgs.job_add(d, "w", b"dead")
    info = wait_done(d, jid)
    assert info["state"] == "failed" and info["status"] == "2", info
    assert info["attempts"] == "2/2" and info["result"] == "exit 3", info
    assert bgs.job_check(d, jid) == b"2"
    assert b"%s failed w" % jid.encode() in d.request(b"queue:list")
    assert bgs.job_get(d, jid).startswith(b"502:")
    assert len(log_lines(log)) == 2
    assert d.request(b"queue:retry:id:" + jid.encode()) == b"id:" + jid.encode()
    info = wait_done(d, jid)
    assert info["state"] == "failed" and info["attempts"] == "2/2", info
    assert len(log_lines(log)) == 4
    assert framed(d, b"retry " + jid.encode()) == (200, jid.encode())
    assert bgs.wait_until(lambda: len(log_lines(log)) == 6, 20)
    wait_done(d, jid)
    r = d.run_client("retry", jid)
    assert r.returncode == 0 and r.stdout.decode().strip() == jid, r
    assert bgs.wait_until(lambda: len(log_lines(log)) == 8, 20)
    assert wait_done(d, jid)["state"] == "failed"
    ok = bgs.job_add(d, "echo", b"fine")
    wait_done(d, ok)
    assert d.request(b"queue:retry:id:" + ok.encode()).startswith(b"409:")
    assert framed(d, b"retry 0123456789abcdef")[0] == 404


def test_retry_on_chooses_what_is_retried(daemon_factory, tmp_path):
    """retry_on = ["signal", "timeout"]: a non-zero exit is not retried
    (failed after 1 of 4 attempts); a signal is."""
    log = tmp_path / "runs"
    only = {"retries": 3, "retry_delay": 0, "retry_on": ["signal", "timeout"]}
    d = daemon_factory(services={
        "ex": dict(counting(log), **only),
        "sig": dict(counting(log, 2, how="kill -9 $$"), **only)}).start()
    a = bgs.job_add(d, "ex", b"ex")
    b = bgs.job_add(d, "sig", b"sig")
    info = wait_done(d, a)
    assert info["state"] == "failed" and info["attempts"] == "1/4", info
    info = wait_done(d, b)
    assert info["state"] == "done" and info["attempts"] == "2/4", info
    assert [ln[0] for ln in log_lines(log)].count("ex") == 1


def test_kill9_in_attempt_two_of_three_counts_it(daemon_factory, tmp_path):
    """retries = 2 (3 attempts), a service that fails after 0.3 s: 20 times,
    kill -9 the daemon at a random instant of attempt 2, start it again on
    the same spool.  The job is never lost, its attempt count never goes
    back, it ends failed with attempts 3/3, and its service never ran more
    than 3 times."""
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    log = tmp_path / "runs"
    d = daemon_factory(limits={"kill_grace": 1},
                       services={"w": dict(bgs.svc(
                           'x=$(cat); echo "$x" >> %s; sleep 0.3; exit 1'
                           % log), retries=2, retry_delay=0)}).start()
    for trial in range(20):
        data = "t%d" % trial
        jid = bgs.job_add(d, "w", data.encode())

        def runs():
            return [ln[0] for ln in log_lines(log)].count(data)

        assert bgs.wait_until(lambda: runs() >= 2, 20), d.log()
        time.sleep(rng.uniform(0, 0.3))
        before = int(bgs.job_info(d, jid)["attempts"].split("/")[0])
        d.kill9()
        restart(d)
        info = bgs.job_info(d, jid)
        assert info["attempts"].endswith("/3"), info
        assert int(info["attempts"].split("/")[0]) >= before, (info, before)
        info = wait_done(d, jid)
        assert info["state"] == "failed" and info["attempts"] == "3/3", \
            (trial, info)
        assert 2 <= runs() <= 3, (trial, runs())
    assert re.search(r"attempt 2 of 3 (stopped|counted)", d.log()), d.log()


def test_a_job_never_runs_twice_at_once_after_a_kill9(daemon_factory, tmp_path):
    """A service that ignores SIGTERM, retries = 1: kill -9 the daemon
    while it runs and start it again at once.  The old runner still waits
    for its service (kill_grace); the new daemon waits for that runner
    before it runs the job's next attempt, so the two runs never overlap."""
    log = tmp_path / "runs"
    d = daemon_factory(limits={"kill_grace": 10}, services={"w": dict(bgs.svc(
        "trap '' TERM; echo start $(date +%%s.%%N) >> %s; sleep 1.5; "
        "echo end $(date +%%s.%%N) >> %s" % (log, log)), retries=1)}).start()
    jid = bgs.job_add(d, "w", b"")
    assert bgs.wait_until(lambda: len(log_lines(log)) == 1, 10)
    d.kill9()
    restart(d)
    info = wait_done(d, jid)
    assert info["state"] == "done" and info["attempts"] == "2/2", info
    runs = log_lines(log)
    assert [r[0] for r in runs] == ["start", "end", "start", "end"], runs
    assert float(runs[2][1]) >= float(runs[1][1]), runs
    assert "waiting for its runner from before" in d.log()


def test_cancelled_delayed_jobs_free_their_place(daemon_factory):
    """Jobs cancelled while they wait for their due time leave the queue
    at once: they count no more against their source's
    max_queued_per_source, nor against max_queue, before that time."""
    d = daemon_factory(limits={"max_queue": 3}, services={
        "s": {"command": ["/bin/cat"]}},
        extra={"max_queued_per_source": 2}).start()

    def add_from(source):
        ans = bgs.request_from(d.port, source, b"!add s 1 delay=3600\nx")
        head, _, body = ans.partition(b"\n")
        return head, body.decode()

    def cancel(jid):
        assert d.request(b"queue:cancel:id:" + jid.encode()) == b"cancelled"

    ids = [framed_add(d, "s", b"x", "delay=3600") for _ in range(2)]
    assert framed(d, b"add s 1 delay=3600", b"x") == \
        (429, b"Too many jobs queued from your address")
    for jid in ids:
        cancel(jid)
    assert bgs.stat_value(d, 'bgserviced_jobs{state="queued"}') == 0
    ids = [framed_add(d, "s", b"y", "delay=3600") for _ in range(2)]
    head, other = add_from("127.0.0.2")
    assert head == b"!200 16", head
    assert add_from("127.0.0.2") == (b"!503 10", "Queue full")
    cancel(ids[0])
    head, _ = add_from("127.0.0.2")
    assert head == b"!200 16", head
    assert bgs.stat_value(d, 'bgserviced_jobs{state="queued"}') == 3


def test_retried_while_its_hook_runs(daemon_factory, tmp_path):
    """A failed job retried by hand while its on_done hook still runs (its
    result is out, its runner not yet ended) runs again: the master does
    not lose it."""
    flag = tmp_path / "flag"
    d = daemon_factory(services={"s": dict(
        bgs.svc("if [ -e %s ]; then echo ok; else exit 1; fi" % flag),
        on_done=["/bin/sleep", "2"])}).start()
    jid = bgs.job_add(d, "s", b"")
    assert bgs.job_wait_state(d, jid, b"2", 20)
    assert bgs.job_info(d, jid)["state"] == "failed"
    flag.write_text("")
    assert d.request(b"queue:retry:id:" + jid.encode()) == b"id:" + jid.encode()
    assert bgs.job_get(d, jid, timeout=20) == b"ok\n"
    assert bgs.job_info(d, jid)["state"] == "done"
