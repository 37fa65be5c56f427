"""The job queue's idempotency keys (key=), dependencies (after=) and
completion hook (on_done), through the real daemon; and the client's
add -k/-w and jobs -S/-s."""
import os
import pathlib
import pwd
import re
import shutil
import tempfile
import threading
import time

import pytest

import bgs

svc = bgs.svc
add = bgs.job_add
check = bgs.job_check
get = bgs.job_get
info = bgs.job_info
wait_state = bgs.job_wait_state

GONE = b"404: Unknown job id\n"


def fadd(d, service, data=b"", **opts):
    """A framed add with option words OPTS: (code, payload)."""
    words = "".join(" %s=%s" % (k, v) for k, v in opts.items())
    with d.connect() as s:
        s.sendall(b"!add %s %d%s\n" % (service.encode(), len(data), words.encode()) + data)
        return bgs.read_framed(s)


def fadd_id(d, service, data=b"", **opts):
    code, payload = fadd(d, service, data, **opts)
    assert code == 200, payload
    return payload.decode()


def runs(path):
    return path.read_text().split() if path.exists() else []


def logger(log, extra=""):
    """A service that notes "start NAME T" and "end NAME T" around EXTRA,
    NAME being its data, and answers its data."""
    return svc('n=$(cat); echo "start $n $(date +%%s.%%N)" >> %s; %s '
               'echo "end $n $(date +%%s.%%N)" >> %s; echo "$n"' % (log, extra, log),
               timeout=30)


# Idempotency keys.

def test_two_adds_with_one_key_give_one_id_and_one_run(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(services={"once": svc("echo ran >> %s; cat" % log),
                                 "other": svc("echo other >> %s; cat" % log)}).start()
    a = fadd_id(d, "once", b"x", key="order-17")
    b = fadd_id(d, "once", b"y", key="order-17")
    assert a == b
    assert get(d, a) == b"x"
    # Done but kept: the key still answers the same job, which ran once.
    assert fadd_id(d, "once", b"z", key="order-17") == a
    assert info(d, a)["key"] == "order-17"
    # The key is the service's: another service's job is another job.
    c = fadd_id(d, "other", b"w", key="order-17")
    assert c != a and get(d, c) == b"w"
    assert runs(log).count("ran") == 1
    assert d.wait_log("has the key order-17: no new job")


def test_concurrent_adds_with_one_key_give_one_id(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"max_connections": 64},
                       services={"once": svc("echo ran >> %s; cat" % log)}).start()
    n = 12
    barrier = threading.Barrier(n, timeout=20)
    ids, errors = [], []

    def adder():
        try:
            with d.connect() as s:
                barrier.wait()
                s.sendall(b"!add once 1 key=race\nx")
                ids.append(bgs.read_framed(s))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=adder) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(ids) == n, errors
    assert {code for code, _ in ids} == {200}
    assert len({jid for _, jid in ids}) == 1, ids
    assert get(d, ids[0][1].decode()) == b"x"
    time.sleep(0.3)
    assert runs(log) == ["ran"]
    assert len([f for f in os.listdir(d.spool) if f.endswith(".req")]) == 1


def test_a_key_after_its_job_expired_gives_a_new_job(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"job_retention": 1},
                       services={"once": svc("echo ran >> %s; cat" % log)}).start()
    a = fadd_id(d, "once", b"x", key="k")
    assert get(d, a) == b"x"
    assert bgs.wait_until(lambda: check(d, a) == GONE, 10)
    assert bgs.wait_until(lambda: not [f for f in os.listdir(d.spool)
                                       if f.startswith("key-")], 5)
    b = fadd_id(d, "once", b"y", key="k")
    assert b != a and get(d, b) == b"y"
    assert runs(log) == ["ran", "ran"]


def test_a_key_survives_a_restart(daemon_factory, tmp_path):
    d = daemon_factory().start()
    a = fadd_id(d, "upper", b"x", key="k")
    assert get(d, a) == b"X"
    d.stop()
    d.start()
    assert fadd_id(d, "upper", b"y", key="k") == a


# Dependencies.

def test_a_chain_runs_in_order(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"max_jobs": 4},
                       services={"step": logger(log, '[ "$n" = A ] && sleep 1;')}).start()
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a)
    c = fadd_id(d, "step", b"C", after=b)
    # Waiting, B and C are queued (status 0), never running.
    assert check(d, b) == b"0" and check(d, c) == b"0"
    assert info(d, c)["after"] == b
    assert get(d, c) == b"C\n"
    assert get(d, a) == b"A\n" and get(d, b) == b"B\n"
    bgs.assert_serial(bgs.intervals(log), ["A", "B", "C"])


def test_a_job_waits_for_all_it_names(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"max_jobs": 4}, services={
        "step": logger(log, '[ "$n" = A ] && sleep 1; [ "$n" = B ] && sleep 0.3;')}).start()
    a = add(d, "step", b"A")
    b = add(d, "step", b"B")
    c = fadd_id(d, "step", b"C", after="%s,%s" % (b, a))
    assert get(d, c) == b"C\n"
    spans = bgs.intervals(log)
    assert spans["C"]["start"] >= max(spans["A"]["end"], spans["B"]["end"])


def test_a_failed_dependency_fails_the_rest_of_the_chain(daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(services={"step": logger(log, '[ "$n" = B ] && exit 3;')}).start()
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a)
    c = fadd_id(d, "step", b"C", after=b)
    e = fadd_id(d, "step", b"E", after=c)
    assert get(d, c) == b"500: Dependency failed: %s\n" % b.encode()
    assert get(d, e) == b"500: Dependency failed: %s\n" % c.encode()
    assert get(d, b) == b"502: Service step failed with exit status 3\n"
    i = info(d, c)
    assert (i["state"], i["code"], i["result"]) == ("failed", "500", "dependency")
    assert i["message"] == "Dependency failed: " + b
    assert set(bgs.intervals(log)) == {"A", "B"}  # C and E never ran


def test_many_dependants_of_a_failure_start_max_jobs_at_a_time(daemon_factory, tmp_path):
    """A failed job's dependants fail at once, past max_jobs, but at most
    max_jobs of them beyond it at a time: their runners (each kept a
    second by its on_done hook) never outnumber 2 x max_jobs."""
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "first": svc("while [ ! -e %s ]; do sleep 0.05; done; exit 1" % gate,
                     timeout=60),
        "then": dict(svc("cat"), on_done=["/bin/sleep", "1"],
                     on_done_when="failure")}).start()
    a = add(d, "first", b"")
    deps = [fadd_id(d, "then", b"x", after=a) for _ in range(6)]
    assert bgs.wait_until(lambda: len(bgs.child_pids(d.pid)) == 1, 10)
    gate.write_text("go")
    most, end = 0, time.monotonic() + 15
    while time.monotonic() < end:
        most = max(most, len(bgs.child_pids(d.pid)))
        if all(check(d, j) == b"2" for j in deps) and \
                len(bgs.child_pids(d.pid)) == 0:
            break
        time.sleep(0.05)
    assert 1 <= most <= 2 + 1, most   # two runners, and a check's child
    for j in deps:
        assert get(d, j) == b"500: Dependency failed: %s\n" % a.encode()


def test_a_cancelled_dependency_fails_its_dependents(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    ran = tmp_path / "ran"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60),
        "mark": svc("cat >> %s" % ran)}).start()
    blocker = add(d, "wait", b"b")
    assert wait_state(d, blocker, b"1")
    queued = add(d, "wait", b"q")
    dep = fadd_id(d, "mark", b"dep", after=queued)
    held = fadd_id(d, "mark", b"held", after=blocker)
    assert d.request(b"queue:cancel:id:" + queued.encode()) == b"cancelled"
    # A job cancelled while it waits never runs, nor is its result changed.
    assert d.request(b"queue:cancel:id:" + held.encode()) == b"cancelled"
    # Its result is published at once, though the only one of max_jobs
    # is still taken: a job that fails so runs nothing.
    assert get(d, dep, timeout=15) == b"500: Dependency failed: %s\n" % queued.encode()
    assert check(d, blocker) == b"1"
    gate.write_text("go")
    assert get(d, blocker) == b"b"
    assert get(d, held) == b"410: Job cancelled\n"
    time.sleep(0.5)
    assert not ran.exists()


def test_an_unknown_dependency_is_refused(daemon_factory):
    d = daemon_factory(extra={"node": "here"}).start()
    for dep in ("0123456789abcdef", "there___-0123456789abcdef"):
        code, text = fadd(d, "upper", b"x", after=dep)
        assert (code, text) == (404, b"Unknown dependency: " + dep.encode())
    a = fadd_id(d, "upper", b"a")
    code, text = fadd(d, "upper", b"x", after="%s,0123456789abcdef" % a)
    assert (code, text) == (404, b"Unknown dependency: 0123456789abcdef")
    assert fadd(d, "upper", b"x", after=a)[0] == 200
    assert d.wait_log("refused: unknown dependency 0123456789abcdef")


def test_waiting_jobs_are_restored_after_a_restart(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    log = tmp_path / "log"
    d = daemon_factory(limits={"max_jobs": 1, "kill_grace": 1}, services={
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60),
        "step": logger(log)}).start()
    blocker = add(d, "wait", b"b")
    assert wait_state(d, blocker, b"1")
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a)
    d.kill9()
    gate.write_text("go")
    d.start()
    assert get(d, b) == b"B\n"
    assert get(d, a) == b"A\n"
    bgs.assert_serial(bgs.intervals(log), ["A", "B"])


def gone(d, jid, timeout=20):
    """Wait until job JID has expired from the spool."""
    return bgs.wait_until(lambda: check(d, jid) == GONE, timeout, 0.1)


def test_a_dependency_that_expired_after_succeeding_does_not_fail_its_dependant(
        daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"job_retention": 1}, services={"step": logger(log)}).start()
    a = add(d, "step", b"A")
    assert get(d, a) == b"A\n"
    # B's delay outlasts A's retention: A is gone when B is due.
    b = fadd_id(d, "step", b"B", after=a, delay=3)
    assert gone(d, a)
    assert check(d, b) == b"0"
    assert get(d, b, timeout=20) == b"B\n"
    assert info(d, b)["code"] == "200"


def test_a_dependency_that_expired_before_a_restart_does_not_fail_its_dependant(
        daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(limits={"job_retention": 1}, services={"step": logger(log)}).start()
    a = add(d, "step", b"A")
    assert get(d, a) == b"A\n"
    b = fadd_id(d, "step", b"B", after=a, delay=4)
    assert gone(d, a)
    d.stop()
    d.start()  # the start-up scan judges B again, A gone
    assert get(d, b, timeout=20) == b"B\n"
    assert set(bgs.intervals(log)) == {"A", "B"}


def test_a_failed_dependency_fails_its_dependant_at_once_past_its_delay(
        daemon_factory, tmp_path):
    log = tmp_path / "log"
    d = daemon_factory(services={"step": logger(log, '[ "$n" = A ] && exit 3;')}).start()
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a, delay=60)
    c = fadd_id(d, "step", b"C", after=b)
    # Not 60 s later, when A's result could have expired.
    assert get(d, b, timeout=15) == b"500: Dependency failed: %s\n" % a.encode()
    assert get(d, c, timeout=15) == b"500: Dependency failed: %s\n" % b.encode()
    assert info(d, b)["message"] == "Dependency failed: " + a
    assert set(bgs.intervals(log)) == {"A"}


def test_a_dependency_interrupted_by_a_crash_fails_its_dependant_at_once_after_it(
        daemon_factory, tmp_path):
    # Results are kept 5 s: A's expires long before B would be due, so
    # B must be judged at the start; and B's is still there to be read
    # when the machine is loaded (with 1 s, its 'get' once came too late
    # and found it expired: 404).
    log = tmp_path / "log"
    d = daemon_factory(limits={"job_retention": 5, "kill_grace": 1},
                       services={"step": logger(log, '[ "$n" = A ] && sleep 30;')}).start()
    a = add(d, "step", b"A")
    assert wait_state(d, a, b"1")
    # A's service has begun (its log exists), not only its runner.
    assert bgs.wait_until(lambda: log.exists(), 10)
    b = fadd_id(d, "step", b"B", after=a, delay=30)
    d.kill9()
    d.start()  # A is found interrupted, then B judged: doomed
    assert get(d, b, timeout=15) == b"500: Dependency failed: %s\n" % a.encode()
    assert "B" not in bgs.intervals(log)


def test_a_dependant_retried_with_its_dependency_waits_for_it(daemon_factory, tmp_path):
    log = tmp_path / "log"
    ok = tmp_path / "ok"
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 4}, services={"step": logger(
        log, '[ "$n" = A ] && { [ -e %s ] || exit 3; '
             'while [ ! -e %s ]; do sleep 0.05; done; };' % (ok, gate))}).start()
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a)
    failed = b"500: Dependency failed: %s\n" % a.encode()
    assert get(d, b) == failed
    # Retried while A has still failed, B fails again at once.
    assert d.request(b"queue:retry:id:" + b.encode()) == b"id:" + b.encode()
    assert get(d, b, timeout=15) == failed
    ok.write_text("ok")
    assert d.request(b"queue:retry:id:" + a.encode()) == b"id:" + a.encode()
    assert wait_state(d, a, b"1")
    assert d.request(b"queue:retry:id:" + b.encode()) == b"id:" + b.encode()
    # B waits for A, running, instead of failing.
    time.sleep(0.5)
    assert check(d, b) == b"0"
    gate.write_text("go")
    assert get(d, b) == b"B\n"
    assert get(d, a) == b"A\n"
    spans = bgs.intervals(log)
    assert spans["B"]["start"] >= spans["A"]["end"]


def test_a_dependant_retried_before_its_dependency_waits_for_it(daemon_factory, tmp_path):
    log = tmp_path / "log"
    ok = tmp_path / "ok"
    d = daemon_factory(services={"step": logger(
        log, '[ "$n" = A ] && { [ -e %s ] || exit 3; sleep 1; };' % ok)}).start()
    a = add(d, "step", b"A")
    b = fadd_id(d, "step", b"B", after=a)
    assert get(d, b) == b"500: Dependency failed: %s\n" % a.encode()
    ok.write_text("ok")
    # A queued again first, then B, which waits for it.
    for job in (a, b):
        assert d.request(b"queue:retry:id:" + job.encode()) == b"id:" + job.encode()
    assert get(d, b) == b"B\n"
    assert info(d, a)["code"] == "200"
    bgs.assert_serial(bgs.intervals(log), ["A", "B"])


# The completion hook.

HOOK = """#!/bin/sh
out=%s/$BGS_JOB_ID
{ echo "state=$BGS_JOB_STATE"; echo "code=$BGS_JOB_CODE";
  echo "result=$BGS_JOB_RESULT"; echo "exit=$BGS_EXIT_STATUS";
  echo "service=$BGS_SERVICE"; echo "uid=$(id -u)"; echo "extra=$EXTRA"; } > $out.env
cat > $out.in
exit ${HOOK_EXIT:-0}
"""


def hook_env(path):
    return dict(ln.split("=", 1) for ln in path.read_text().splitlines())


@pytest.fixture
def hook_dir():
    """A folder the services' user (nobody) can reach, unlike tmp_path."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="bgs-hook-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def hook_daemon(daemon_factory, hook_dir):
    out = hook_dir / "hooks"
    out.mkdir()
    os.chmod(out, 0o777)
    hook = hook_dir / "hook.sh"
    hook.write_text(HOOK % out)
    os.chmod(hook, 0o755)
    common = {"user": "nobody", "on_done": [str(hook)], "env": ["EXTRA=yes"]}
    d = daemon_factory(services={
        "ok": dict(svc("tr a-z A-Z"), **common),
        "bad": dict(svc("echo partial; exit 3"), **common),
        "onfail": dict(svc("cat"), on_done_when="failure", **common),
        "broken": dict(svc("cat"), user="nobody", on_done=[str(hook)],
                       env=["HOOK_EXIT=7"]),
        "hang": dict(svc("echo started; exec sleep 300", timeout=0), **common),
    }).start()
    return d, out


def test_on_done_after_success_and_failure(daemon_factory, hook_dir):
    d, out = hook_daemon(daemon_factory, hook_dir)
    nobody = str(pwd.getpwnam("nobody").pw_uid)
    ok = add(d, "ok", b"hello")
    assert get(d, ok) == b"HELLO"
    assert bgs.wait_until(lambda: (out / (ok + ".in")).exists(), 10)
    env = hook_env(out / (ok + ".env"))
    assert env == {"state": "done", "code": "200", "result": "exit 0", "exit": "0",
                   "service": "ok", "uid": nobody, "extra": "yes"}
    assert (out / (ok + ".in")).read_bytes() == b"HELLO"
    bad = add(d, "bad")
    assert get(d, bad) == b"502: Service bad failed with exit status 3\n"
    assert bgs.wait_until(lambda: (out / (bad + ".in")).exists(), 10)
    env = hook_env(out / (bad + ".env"))
    assert (env["state"], env["code"], env["result"], env["exit"]) == \
        ("failed", "502", "exit 3", "3")
    assert (out / (bad + ".in")).read_bytes() == b"partial\n"


def test_on_done_when_failure_and_a_dependency_failure(daemon_factory, hook_dir):
    d, out = hook_daemon(daemon_factory, hook_dir)
    good = add(d, "onfail", b"x")
    assert get(d, good) == b"x"
    bad = add(d, "bad")
    failed = fadd_id(d, "onfail", b"y", after=bad)
    assert get(d, failed) == b"500: Dependency failed: %s\n" % bad.encode()
    assert bgs.wait_until(lambda: (out / (failed + ".in")).exists(), 10)
    env = hook_env(out / (failed + ".env"))
    assert (env["state"], env["code"], env["result"], env["exit"]) == \
        ("failed", "500", "dependency", "")
    assert (out / (failed + ".in")).read_bytes() == b""
    assert not (out / (good + ".env")).exists()  # it succeeded


def test_on_done_after_a_cancel_while_running(daemon_factory, hook_dir):
    d, out = hook_daemon(daemon_factory, hook_dir)
    jid = add(d, "hang")
    assert wait_state(d, jid, b"1")
    assert d.request(b"queue:cancel:id:" + jid.encode()) == b"cancelled"
    # The runner's SIGTERM stopped the service, not the hook after it.
    assert bgs.wait_until(lambda: (out / (jid + ".in")).exists(), 10)
    env = hook_env(out / (jid + ".env"))
    assert (env["state"], env["code"], env["result"]) == ("cancelled", "410", "cancelled")
    assert d.wait_log("job %s: on_done of hang ok" % jid)


def test_a_failing_on_done_is_logged_and_changes_nothing(daemon_factory, hook_dir):
    d, out = hook_daemon(daemon_factory, hook_dir)
    jid = add(d, "broken", b"data")
    assert get(d, jid) == b"data"
    assert d.wait_log("job %s: on_done of broken failed: Service broken failed "
                      "with exit status 7" % jid)
    i = info(d, jid)
    assert (i["state"], i["code"], i["result"]) == ("done", "200", "exit 0")
    assert get(d, jid) == b"data"


# The client.

def test_client_add_with_a_key_and_dependencies(daemon_factory):
    d = daemon_factory().start()
    a = d.run_client("add", "upper", "a").stdout.strip().decode()
    r = d.run_client("add", "-k", "K1", "-w", a, "upper", "b")
    assert r.returncode == 0, r
    b = r.stdout.strip().decode()
    r = d.run_client("add", "-k", "K1", "-w", a, "upper", "again")
    assert r.stdout.strip().decode() == b
    assert get(d, b) == b"B"
    i = info(d, b)
    assert (i["key"], i["after"]) == ("K1", a)
    r = d.run_client("add", "-w", "0123456789abcdef", "upper", "x")
    assert r.returncode == 2 and b"404: Unknown dependency: 0123456789abcdef" in r.stderr
    r = d.run_client("add", "-w", "nope", "upper", "x")
    assert r.returncode == 100 and b"not a list of job ids" in r.stderr
    r = d.run_client("add", "-k", "a b", "upper", "x")
    assert r.returncode == 100


def test_client_jobs_filters_and_sorts(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(limits={"max_jobs": 1}, services={
        "svc": svc("cat"), "other": svc("cat"),
        "wait": svc("while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60)}).start()
    done = []
    for i in range(3):
        done.append(add(d, "svc", b"%d" % i))
        assert get(d, done[-1]) == b"%d" % i
        time.sleep(1.05)  # distinct submission seconds
    other = add(d, "other", b"o")
    assert get(d, other) == b"o"
    blocker = add(d, "wait", b"w")
    assert wait_state(d, blocker, b"1")
    queued = add(d, "svc", b"q")
    r = d.run_client("jobs", "-S", "done", "-s", "svc")
    assert r.returncode == 0, r
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "STATE", "SERVICE", "SUBMITTED", "AGE"]
    rows = [ln.split() for ln in lines[1:]]
    assert [row[0] for row in rows] == done  # oldest first, others left out
    for row in rows:
        assert row[1:3] == ["done", "svc"]
        assert re.match(r"^\d{4}-\d\d-\d\d$", row[3]) and re.match(r"^\d\d:\d\d:\d\d$", row[4])
        assert re.match(r"^\d+[smhd]$", row[5]) and row[6] == "ago"
    r = d.run_client("jobs", "-S", "queued")
    assert [ln.split()[0] for ln in r.stdout.decode().splitlines()[1:]] == [queued]
    r = d.run_client("jobs", "-S", "running", "-s", "wait")
    assert [ln.split()[0] for ln in r.stdout.decode().splitlines()[1:]] == [blocker]
    r = d.run_client("jobs")
    assert len(r.stdout.decode().splitlines()) == 1 + 6
    r = d.run_client("jobs", "-S", "bogus")
    assert r.returncode == 100
    gate.write_text("go")
    assert get(d, queued) == b"q"


def test_a_key_is_its_callers(daemon_factory):
    """A key names a job only for the callers that gave it: those that
    present the same token, or, without a token, the same source.  So
    nobody gets the id, nor the result, of another's keyed job by naming
    its key.  And a repeated keyed add is answered its job's id even when
    the queue is full."""
    d = daemon_factory(limits={"max_queue": 3}, services={
        "open": {"command": ["/bin/cat"]},
        "shut": {"command": ["/bin/cat"], "tokens": ["t0ken-one", "t0ken-two"]},
    }).start()

    def add_from(source, service, words):
        ans = bgs.request_from(d.port, source, b"!add %s 1 delay=3600 %s\nx" % (
            service.encode(), words.encode()))
        head, _, body = ans.partition(b"\n")
        return head.decode(), body.decode()

    head, a = add_from("127.0.0.1", "open", "key=k")
    assert head == "!200 16", (head, a)
    assert add_from("127.0.0.1", "open", "key=k") == (head, a)
    other = add_from("127.0.0.2", "open", "key=k")
    assert other[0] == "!200 16" and other[1] != a, other
    one = add_from("127.0.0.1", "shut", "token=t0ken-one key=k")
    assert one[0] == "!200 16" and one[1] not in (a, other[1]), one
    assert add_from("127.0.0.2", "shut", "token=t0ken-one key=k") == one
    # Three jobs queued: the queue is full, but not for a known key.
    assert add_from("127.0.0.1", "open", "key=new")[0] == "!503 10"
    assert add_from("127.0.0.1", "open", "key=k") == (head, a)
    assert add_from("127.0.0.2", "shut", "token=t0ken-one key=k") == one
    # Another token is another caller, refused like any new job.
    assert add_from("127.0.0.1", "shut", "token=t0ken-two key=k")[0] == "!503 10"
    assert info(d, a)["state"] == "queued"
    assert info(d, a)["key"] == "k"
