"""Operating the daemon: reloads, stop semantics, zombies, process
titles, stats."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import bgs

SH = "/bin/sh"


svc = bgs.svc


def stats(d):
    out = {}
    for line in d.request(b"stats").decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v) if "." in v else int(v)
    return out


def children_of(pid):
    r = subprocess.run(["ps", "-o", "pid=,stat=,args=", "--ppid", str(pid)],
                       capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        p, st, args = line.strip().split(None, 2)
        rows.append((int(p), st, args))
    return rows


def test_reload_during_running_call_keeps_old_config(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(services={
        "slow": svc("while [ ! -e %s ]; do sleep 0.05; done; echo old" % gate, timeout=60)}).start()
    result = {}
    t = threading.Thread(target=lambda: result.update(a=d.request(b"slow:", timeout=60)))
    t.start()
    assert bgs.wait_until(lambda: any("call slow" in a for _, _, a in children_of(d.pid)), 10)
    # The new configuration drops the service the call is running.
    d.settings["services"] = {"upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]}}
    d.write_config()
    d.signal(signal.SIGHUP)
    assert d.wait_log("configuration reloaded")
    assert d.request(b"slow:") == b"400: Unknown request\n"
    gate.write_text("go")
    t.join(60)
    assert result["a"] == b"old\n"


def test_reload_adds_and_removes_listeners_without_refusing(daemon_factory):
    d = daemon_factory().start()
    old_port = bgs.free_port()
    d.settings["listen"].append({"address": "127.0.0.1", "port": old_port, "udp": False})
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: port_answers(old_port), 10), d.log()
    # Hammer the unchanged listener while listeners come and go.
    failures = []
    stop = threading.Event()

    def hammer():
        n = 0
        while not stop.is_set() and n < 2000:
            try:
                if d.request(b"helo", timeout=5) != b"oleh":
                    failures.append("bad answer")
            except OSError as e:
                failures.append(repr(e))
            n += 1

    t = threading.Thread(target=hammer)
    t.start()
    new_port = bgs.free_port()
    for i in range(3):
        d.settings["listen"][1:] = [{"address": "127.0.0.1", "port": new_port if i % 2 == 0
                                     else old_port, "udp": False}]
        d.write_config()
        d.signal(signal.SIGHUP)
        assert bgs.wait_until(lambda: d.log().count("configuration reloaded") >= i + 2, 10)
        time.sleep(0.1)
    stop.set()
    t.join(30)
    assert not failures, failures[:5]
    # Last configuration: the main port and new_port.
    assert port_answers(new_port)
    assert not port_answers(old_port)
    assert "closing listener 127.0.0.1:%d/tcp" % old_port in d.log()


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"helo")
            return bgs.recv_all(s) == b"oleh"
    except OSError:
        return False


def test_sigterm_escalates_to_kill_after_grace(daemon_factory, tmp_path):
    pidf = tmp_path / "pid"
    d = daemon_factory(limits={"kill_grace": 1}, services={
        "stubborn": svc("trap '' TERM; echo $$ > %s; while :; do sleep 0.1; done" % pidf,
                        timeout=0)}).start()
    s = d.connect()
    s.sendall(b"stubborn:x")
    s.shutdown(socket.SHUT_WR)
    assert bgs.wait_until(lambda: pidf.exists() and pidf.read_text().strip(), 10)
    svc_pid = int(pidf.read_text())
    d.stop()
    assert not bgs.pid_alive(svc_pid)
    assert not os.path.exists(d.pidfile)
    s.close()


def test_no_zombies_after_many_calls(daemon_factory):
    d = daemon_factory(services={"ok": {"command": ["/bin/true"]},
                                 "echo": {"command": ["/bin/cat"]}}).start()
    threads = []
    for k in range(4):
        t = threading.Thread(target=lambda: [d.request(b"echo:%d" % i) for i in range(50)])
        threads.append(t)
        t.start()
    for t in threads:
        t.join(120)
    for i in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"ok:x", ("127.0.0.1", d.port))
    assert d.request(b"echo:last") == b"last"
    # Every child has been reaped: none left, and no zombie.
    assert bgs.wait_until(lambda: children_of(d.pid) == [], 10), children_of(d.pid)


def test_process_titles(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(services={
        "slow": svc("while [ ! -e %s ]; do sleep 0.05; done; echo done" % gate, timeout=60)}).start()
    def title():
        with open("/proc/%d/cmdline" % d.pid, "rb") as f:
            return f.read()
    assert bgs.wait_until(lambda: b"master: 0 connections" in title(), 10), title()
    s = d.connect()
    port = s.getsockname()[1]
    s.sendall(b"slow:x")
    s.shutdown(socket.SHUT_WR)
    want = "call slow from tcp 127.0.0.1:%d" % port
    assert bgs.wait_until(lambda: any(want in a for _, _, a in children_of(d.pid)), 10), \
        children_of(d.pid)
    assert b"master: 1 connections" in title()
    gate.write_text("go")
    assert bgs.recv_all(s) == b"done\n"
    s.close()


def test_stats_counters_move(daemon_factory):
    d = daemon_factory(limits={"request_timeout": 1}, services={
        "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
        "fail": svc("exit 1"),
        "slow": svc("sleep 5", timeout=1)}).start()
    before = stats(d)
    assert before["bgserviced_uptime_seconds"] >= 0
    d.request(b"upper:a")
    d.request(b"upper:b")
    d.request(b"fail:x")
    d.request(b"slow:x")
    d.request(b"nosuch:x")
    with d.connect() as s:           # says nothing: 408
        bgs.recv_all(s)
    jid = d.request(b"queue:add:upper:job")[3:]
    assert d.request(b"queue:get:id:" + jid) == b"JOB"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"upper:dgram", ("127.0.0.1", d.port))
        u.sendto(b"nosuch:dgram", ("127.0.0.1", d.port))
    assert bgs.wait_until(lambda: stats(d)['bgserviced_calls_total{service="upper"}']
                          == before['bgserviced_calls_total{service="upper"}'] + 3, 10)
    after = stats(d)

    def delta(k):
        return after[k] - before.get(k, 0)

    assert delta('bgserviced_calls_total{service="upper"}') == 3
    assert delta('bgserviced_jobs_run_total{service="upper"}') == 1
    assert delta('bgserviced_failures_total{service="fail",fault="service"}') == 1
    assert delta('bgserviced_failures_total{service="slow",fault="service"}') == 1
    assert delta('bgserviced_failures_total{service="fail",fault="caller"}') == 0
    assert delta('bgserviced_timeouts_total{service="slow"}') == 1
    assert delta('bgserviced_run_seconds_total{service="slow"}') >= 0.9
    assert delta("bgserviced_bad_requests_total") >= 1
    assert delta("bgserviced_request_timeouts_total") == 1
    assert delta("bgserviced_jobs_added_total") == 1
    assert delta("bgserviced_jobs_finished_total") == 1
    assert delta("bgserviced_datagrams_total") == 2
    assert delta("bgserviced_datagrams_dropped_total") == 1
    assert delta("bgserviced_connections_total") >= 9
    assert after['bgserviced_jobs{state="done"}'] == 1
    assert after['bgserviced_jobs{state="queued"}'] == 0
    # Reloads are counted, good and bad.
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: stats(d)['bgserviced_reloads_total{result="ok"}'] == 1, 10)


def test_stats_prometheus_format(daemon):
    text = daemon.request(b"stats").decode()
    for line in text.splitlines():
        assert re.match(r'^(# (HELP|TYPE) bgserviced_\w+ .+|'
                        r'bgserviced_\w+(\{\w+="[^"]*"(,\w+="[^"]*")*\})? \d+(\.\d+)?)$',
                        line), line
    # Framed, and through the client.
    with daemon.connect() as s:
        s.sendall(b"!stats\n")
        s.shutdown(socket.SHUT_WR)
        ans = bgs.recv_all(s)
    assert ans.startswith(b"!200 ") and b"bgserviced_uptime_seconds" in ans
    r = subprocess.run([daemon.client, "-H", "127.0.0.1:%d" % daemon.port, "stats"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and b"bgserviced_connections_total" in r.stdout


def test_framed_send_answers_202_and_runs(daemon_factory, tmp_path):
    out = tmp_path / "out"
    d = daemon_factory(services={"rec": svc("cat > %s.tmp; mv %s.tmp %s" % (out, out, out))}).start()
    with d.connect() as s:
        s.sendall(b"!send rec 5\nhello")
        assert bgs.recv_exact(s, 7) == b"!202 0\n"
    assert bgs.wait_until(out.exists, 10)
    assert out.read_bytes() == b"hello"


def test_syslog_when_detached(daemon_factory):
    # Detached, nothing goes to the terminal: the daemon's stderr is
    # /dev/null (checked in test_startup), and log lines go to syslog(3).
    d = daemon_factory()
    d.start(foreground=False)
    fd2 = os.readlink("/proc/%d/fd/2" % d.pid)
    assert fd2 == "/dev/null"
    assert d.request(b"upper:x") == b"X"
