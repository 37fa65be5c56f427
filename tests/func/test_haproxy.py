"""Three daemons behind a real HAProxy (contrib/haproxy/haproxy.cfg).

The daemons listen on 127.0.0.2, 127.0.0.3 and 127.0.0.4, each with its
own node name, and HAProxy on 127.0.0.1, with the configuration of
contrib/haproxy/haproxy.cfg (its addresses replaced by the test's).  The
callers behave like the seeds' PHP caller: one address for everything,
connect, write the request, read until the daemon closes, never shut
their side down (the original form); the bundled client and contrib/php
speak the framed form through the same HAProxy.  Each service answers with its node's name, so that
every answer says who gave it.
"""
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess

import pytest

import bgs

CFG = os.path.join(bgs.REPO, "contrib", "haproxy", "haproxy.cfg")
NODES = {"web1": "127.0.0.2", "web2": "127.0.0.3", "web3": "127.0.0.4"}
CALLERS = 4          # callers at once
# Calls and jobs with all three up, then with web3 stopped: 1,000 calls
# and 200 jobs in all on the plain build, fewer under ASan (slower).
ROUNDS = {"plain": ((600, 120), (400, 80)), "asan": ((120, 24), (80, 16))}
ID_RE = re.compile(rb"^id:((web\d)_{4}-[0-9a-f]{16})$")


def haproxy_path():
    path = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert os.access(path, os.X_OK), \
        "haproxy is not installed (.ci/deps check installs it)"
    return path


def port_free_on_all(port):
    for addr in ["127.0.0.1"] + list(NODES.values()):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def shared_port():
    """A port free on every test address: the hosts all use it, as a
    real deployment would."""
    for _ in range(50):
        port = bgs.free_port()
        if port_free_on_all(port):
            return port
    raise RuntimeError("no port free on all the test addresses")


def haproxy_config(path, port, daemons):
    """contrib/haproxy/haproxy.cfg with the test's addresses, logging to
    its standard error."""
    with open(CFG) as f:
        text = f.read()
    text, n = re.subn(r"log /dev/log", "log stderr format raw", text)
    assert n == 1, "no 'log /dev/log' in " + CFG
    text, n = re.subn(r"bind 127\.0\.0\.1:12341\b", "bind 127.0.0.1:%d" % port, text)
    assert n == 1, "no 'bind 127.0.0.1:12341' in " + CFG
    for name, d in daemons.items():
        text, n = re.subn(r"(server %s )\S+" % name,
                          r"\g<1>%s:%d" % (d.address, d.port), text)
        assert n == 2, "%s: %d server lines in %s, want 2" % (name, n, CFG)
    with open(path, "w") as f:
        f.write(text)


def caller(port, request, timeout=30):
    """The PHP caller's way: connect, write, read until the server closes.
    b"" if the connection was closed unanswered or refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(request)
            return bgs.recv_all(s)
    except OSError:
        return b""


class Run:
    """The answers of one test run, tallied."""

    def __init__(self, port):
        self.port = port
        self.calls = 0
        self.jobs = 0
        self.by_node = {n: 0 for n in NODES}
        self.wrong = []

    def call(self, i):
        data = b"c%d" % i
        ans = caller(self.port, b"whoami:" + data)
        m = re.match(rb"^(web\d) (.*)$", ans, re.S)
        if not m or m.group(2) != data:
            return ("call", i, ans)
        return ("ok", m.group(1).decode())

    def job(self, i):
        data = b"j%d" % i
        ans = caller(self.port, b"queue:add:whoami:" + data)
        m = ID_RE.match(ans)
        if not m:
            return ("add", i, ans)
        jid, node = m.group(1), m.group(2)
        st = caller(self.port, b"queue:check:id:" + jid)
        if st not in (b"0", b"1", b"2"):
            return ("check", jid, st)
        out = caller(self.port, b"queue:get:id:" + jid)
        if out != node + b" " + data:
            return ("get", jid, out)
        return ("ok", node.decode())

    def batch(self, calls, jobs, start):
        """CALLS calls and JOBS jobs from CALLERS callers at once."""
        with concurrent.futures.ThreadPoolExecutor(CALLERS) as ex:
            futs = [ex.submit(self.call, start + i) for i in range(calls)]
            futs += [ex.submit(self.job, start + i) for i in range(jobs)]
            results = [f.result(timeout=120) for f in futs]
        for r in results:
            if r[0] == "ok":
                self.by_node[r[1]] += 1
            else:
                self.wrong.append(r)
        self.calls += calls
        self.jobs += jobs


@pytest.fixture
def cluster(daemon_factory, tmp_path):
    port = shared_port()
    daemons = {}
    for name, addr in NODES.items():
        daemons[name] = daemon_factory(
            name, address=addr, port=port,
            services={"whoami": bgs.svc("printf '%s '; exec cat" % name)},
            limits={"max_jobs": 8}, extra={"node": name}).start()
    front = bgs.free_port()
    cfg = str(tmp_path / "haproxy.cfg")
    haproxy_config(cfg, front, daemons)
    r = subprocess.run([haproxy_path(), "-c", "-f", cfg], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    log = open(str(tmp_path / "haproxy.log"), "wb")
    proc = subprocess.Popen([haproxy_path(), "-db", "-f", cfg],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    try:
        assert bgs.wait_until(lambda: caller(front, b"helo", 2) == b"oleh", 15), \
            open(str(tmp_path / "haproxy.log")).read()
        yield front, daemons
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_calls_and_jobs_through_haproxy(cluster, build):
    port, daemons = cluster
    run = Run(port)
    (calls1, jobs1), (calls2, jobs2) = ROUNDS[build]

    # All three up: calls and queue:add spread over them, each job's
    # check and get answered by the node its id names.
    run.batch(calls1, jobs1, 0)
    assert not run.wrong, run.wrong[:10]
    assert all(n >= (calls1 + jobs1) // 6 for n in run.by_node.values()), run.by_node

    # A job of web3, kept for later.
    kept = None
    for i in range(30):
        m = ID_RE.match(caller(port, b"queue:add:whoami:kept%d" % i))
        assert m, "queue:add through haproxy failed"
        if m.group(2) == b"web3":
            kept, kept_data = m.group(1), b"kept%d" % i
            break
    assert kept is not None, "30 jobs and none on web3"
    assert caller(port, b"queue:get:id:" + kept) == b"web3 " + kept_data

    # web3 stops: its calls go to the others at once (a refused
    # connection is sent elsewhere before the health check notices).
    daemons["web3"].stop()
    before = dict(run.by_node)
    run.batch(calls2, jobs2, 10000)
    assert not run.wrong, run.wrong[:10]
    assert run.by_node["web3"] == before["web3"], run.by_node
    assert run.by_node["web1"] > before["web1"] and run.by_node["web2"] > before["web2"]

    # Its job waits for it: never answered by another node.
    assert caller(port, b"queue:check:id:" + kept, 10) == b""
    daemons["web3"].start()
    assert bgs.wait_until(
        lambda: caller(port, b"queue:get:id:" + kept, 10) == b"web3 " + kept_data,
        20, 0.2), "web3's job not answered once web3 was back"

    assert (run.calls, run.jobs, len(run.wrong)) == \
        (calls1 + calls2, jobs1 + jobs2, 0)
    if build == "plain":
        assert (run.calls, run.jobs) == (1000, 200)


def test_framed_requests_through_haproxy(cluster):
    """The framed form is routed the same way: the bundled client's
    requests through HAProxy."""
    port, daemons = cluster
    client = daemons["web1"].client
    host = "127.0.0.1:%d" % port
    seen = set()
    for i in range(12):
        r = subprocess.run([client, "-H", host, "add", "whoami", "f%d" % i],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        jid = r.stdout.strip().decode()
        node = jid[:4]
        seen.add(node)
        for verb, want in (("status", None), ("get", "%s f%d" % (node, i))):
            r = subprocess.run([client, "-H", host, verb, jid],
                               capture_output=True, timeout=30)
            assert r.returncode == 0, (verb, jid, r.stderr)
            if want is not None:
                assert r.stdout.decode() == want
    assert seen == set(NODES), seen


PHP = r"""<?php
declare(strict_types=1);
require %s;
use BgService\BackgroundServiceCaller as B;
B::AssignIni("[default]\ntcpurl = tcp://127.0.0.1:%d\n");
$calls = [];
$jobs = [];
for ($i = 0; $i < 30; $i++) {
    $calls[] = B::TCPCall('whoami', "p$i");
}
for ($i = 0; $i < 15; $i++) {
    $id = B::TCPAddQueue('whoami', "q$i");
    $jobs[] = [$id, B::TCPCheckQueue($id), B::TCPGetQueue($id)];
}
echo json_encode(['calls' => $calls, 'jobs' => $jobs]);
"""


def test_php_client_through_haproxy(cluster, tmp_path):
    """contrib/php, configured with HAProxy's address as its one tcpurl."""
    port, daemons = cluster
    autoload = os.path.join(bgs.REPO, "contrib", "php", "autoload.php")
    script = tmp_path / "t.php"
    script.write_text(PHP % ("'%s'" % autoload, port))
    r = subprocess.run(["php", "-d", "display_errors=stderr", "-d", "error_reporting=-1",
                        "-f", str(script)], capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stderr == b"", r
    out = json.loads(r.stdout)
    nodes = set()
    for i, ans in enumerate(out["calls"]):
        node, data = ans.split(" ", 1)
        assert node in NODES and data == "p%d" % i, ans
        nodes.add(node)
    assert nodes == set(NODES), out["calls"]
    for i, (jid, state, result) in enumerate(out["jobs"]):
        m = ID_RE.match(jid.encode())
        assert m, jid
        assert state in ("0", "1", "2") and result == "%s q%d" % (m.group(2).decode(), i), \
            (jid, state, result)
