"""What one caller, or one service, can cost everyone else: the master
out of descriptors, a service's descendants that leave its process
group, one source holding many connections."""
import os
import socket
import time

import bgs

svc = bgs.svc

# A process that leaves the service's process group and writes its pid
# (that of the sleep it becomes) to the file %s before it sleeps.
ESCAPE = "setsid sh -c 'echo $$ > %s; exec sleep 30'"


answers_from = bgs.answers_from


def cpu_seconds(pid):
    """User plus system CPU time PID has used, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(d):
    return d.log().count("\n")


children = bgs.child_pids
stat_value = bgs.stat_value


def sleeping(pid):
    """Is PID alive (not a zombie) and the sleep of ESCAPE?"""
    if not bgs.pid_alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().startswith(b"sleep\0")
    except OSError:
        return False


def escaped_pid(path):
    assert bgs.wait_until(lambda: path.exists() and path.read_text().strip(), 10), \
        "the service's descendant never wrote its pid"
    return int(path.read_text())


# Item 4: descriptor exhaustion

def test_out_of_descriptors_the_master_backs_off(daemon_factory):
    """Callers refused (403) that keep their end open cost the master a
    lingering descriptor each; with 64 descriptors it runs out.  It must
    then wait, not spin: little CPU, few log lines, and it serves again
    once descriptors are free."""
    d = daemon_factory(extra={"allow": ["127.0.0.2"]})
    d.answers = lambda: answers_from(d, "127.0.0.2")
    d.start(wrapper=["prlimit", "--nofile=64", "--"])
    free = 64 - len(os.listdir("/proc/%d/fd" % d.pid))
    held = []
    try:
        # More than it can hold at once: the rest wait in the backlog.
        for _ in range(free + 30):
            held.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
        assert d.wait_log("Too many open files", 10), d.log()
        cpu0, lines0 = cpu_seconds(d.pid), log_lines(d)
        time.sleep(5)
        cpu = cpu_seconds(d.pid) - cpu0
        lines = log_lines(d) - lines0
        assert cpu < 0.05 * 5, "master used %.2f s of CPU in 5 s" % cpu
        assert lines < 100, "%d log lines in 5 s" % lines
    finally:
        for s in held:
            s.close()
    assert bgs.wait_until(lambda: answers_from(d, "127.0.0.2"), 10), d.log()
    assert bgs.request_from(d.port, "127.0.0.2", b"upper:again") == b"AGAIN"
    assert stat_value(d, "bgserviced_accept_pauses_total", "127.0.0.2") >= 1
    assert "accepting again" in d.log()


# Item 5: descendants that leave the process group

def test_escaping_descendants_do_not_defeat_the_timeout(daemon_factory, tmp_path):
    """A descendant in a session of its own that keeps the output open,
    left behind by the service (setsid), by a double fork, or while the
    service still runs: answered 504 within timeout + kill_grace + 1 s,
    and nothing of it left."""
    cases = {
        "setsid": ESCAPE + " & exit 0",
        "double": "(" + ESCAPE + " &); exit 0",
        "stays": ESCAPE + " & sleep 30",
    }
    services = {}
    for name, script in cases.items():
        services[name] = svc(script % (tmp_path / name), timeout=2)
    d = daemon_factory(limits={"kill_grace": 1}, services=services).start()
    for name in cases:
        t0 = time.monotonic()
        ans = d.request(name.encode() + b":", timeout=20)
        took = time.monotonic() - t0
        assert ans == b"504: Service %s timed out after 2 s\n" % name.encode(), ans
        assert took < 2 + 1 + 1, "%s answered after %.1f s" % (name, took)
        pid = escaped_pid(tmp_path / name)
        assert not sleeping(pid), "%s: its descendant %d still runs" % (name, pid)


def test_escaping_descendants_of_a_job(daemon_factory, tmp_path):
    """Queued jobs run through the same code in a runner: the same rule."""
    pidf = tmp_path / "job"
    d = daemon_factory(limits={"kill_grace": 1}, services={
        "double": svc("(" + ESCAPE % pidf + " &); exit 0", timeout=2)}).start()
    t0 = time.monotonic()
    jid = d.request(b"queue:add:double:")
    assert jid.startswith(b"id:"), jid
    ans = d.request(b"queue:get:" + jid, timeout=20)
    took = time.monotonic() - t0
    assert ans == b"504: Service double timed out after 2 s\n", ans
    assert took < 2 + 1 + 1, "answered after %.1f s" % took
    assert not sleeping(escaped_pid(pidf))


def test_what_a_service_leaves_running_is_stopped(daemon_factory, tmp_path):
    """A service that daemonizes a process (double fork, new session,
    output closed) and exits: its answer, and the process stopped."""
    pidf = tmp_path / "left"
    d = daemon_factory(services={"daemonize": svc(
        "(setsid sh -c 'echo $$ > %s; exec sleep 30 </dev/null >/dev/null 2>&1' &); "
        "echo ok" % pidf, timeout=30)}).start()
    assert d.request(b"daemonize:") == b"ok\n"
    assert not sleeping(escaped_pid(pidf))
    assert "left running" in d.log()


# Item 7: one source's connections

def test_one_source_cannot_take_every_slot(daemon_factory):
    """With the default limits, more slow calls from one address than
    max_connections (256): another address is still served at once."""
    d = daemon_factory(services={
        "slow": {"command": ["/bin/sleep", "30"]},
        "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]}}).start()
    held = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(b"slow:")
            s.shutdown(socket.SHUT_WR)
            held.append(s)
        # 128 at most (127 if the start-up probe's child still counts).
        assert bgs.wait_until(lambda: len(children(d.pid)) >= 127, 30), \
            len(children(d.pid))
        t0 = time.monotonic()
        ans = bgs.request_from(d.port, "127.0.0.2", b"upper:other", timeout=5)
        took = time.monotonic() - t0
        assert ans == b"OTHER"
        assert took < 1, "another address waited %.1f s" % took
        # Half of the children (128) for the first address, the rest
        # of its calls turned away at once.
        assert len(children(d.pid)) <= 129
        assert stat_value(d, 'bgserviced_refused_total{reason="per_source"}',
                          "127.0.0.2") >= 300 - 128
    finally:
        for s in held:
            s.close()
