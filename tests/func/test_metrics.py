"""The metrics block: GET /metrics over HTTP, read by curl, checked by
promtool and scraped by a real Prometheus server; latency histograms and
failures split by whose fault they are."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import bgs

svc = bgs.svc
TYPE = "text/plain; version=0.0.4; charset=utf-8"
SERVICES = {
    "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
    "nap": svc("sleep 0.2; echo rested"),
    "fail": svc("exit 3"),
    "latin": {"command": ["/bin/cat"], "charset": "ISO-8859-1"},
}


def tool(name):
    path = shutil.which(name) or os.path.join("/usr/bin", name)
    assert os.access(path, os.X_OK), "%s is not installed (.ci/deps check installs it)" % name
    return path


def metrics_daemon(daemon_factory, allow=None, limits=None, extra=None, services=None):
    port = bgs.free_port()
    block = {"address": "127.0.0.1", "port": port}
    if allow is not None:
        block["allow"] = allow
    settings = {"metrics": block}
    settings.update(extra or {})
    d = daemon_factory(services=services or SERVICES, limits=limits, extra=settings)
    d.mport = port
    return d.start()


def curl(d, *args, path="/metrics", source=None):
    """curl -i: (status, {header: value}, body)."""
    cmd = [tool("curl"), "-s", "-i", "--max-time", "20"]
    if source:
        cmd += ["--interface", source]
    cmd += list(args) + ["http://127.0.0.1:%d%s" % (d.mport, path)]
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def raw(d, data, timeout=20):
    """Send DATA to the metrics port as it is; what comes back."""
    with socket.create_connection(("127.0.0.1", d.mport), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return bgs.recv_all(s)


def samples(text):
    """{'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def scrape(d):
    status, headers, body = curl(d)
    assert status == 200
    return samples(body.decode())


def test_get_metrics_http_1_0_and_1_1(daemon_factory):
    d = metrics_daemon(daemon_factory)
    for version in ("--http1.0", "--http1.1"):
        status, headers, body = curl(d, version)
        assert status == 200
        assert headers["content-type"] == TYPE
        assert int(headers["content-length"]) == len(body) > 0
        assert headers["connection"] == "close"
        assert b"bgserviced_uptime_seconds " in body
    # HEAD: the same headers, no body; a query string is ignored.
    status, headers, body = curl(d, "--head")
    assert status == 200 and int(headers["content-length"]) > 0 and body == b""
    assert curl(d, path="/metrics?x=1")[0] == 200
    # A raw HTTP/1.0 request without headers, and one with LF line ends.
    assert raw(d, b"GET /metrics HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw(d, b"GET /metrics HTTP/1.1\nHost: x\n\n").startswith(b"HTTP/1.1 200 OK\r\n")


def test_not_found_not_allowed_bad_request(daemon_factory):
    d = metrics_daemon(daemon_factory, limits={"request_timeout": 1})
    for path in ("/metricsx", "/stats", "/metrics/", "/index.html", "/jobs/x"):
        status, headers, _ = curl(d, path=path)
        assert status == 404, path
        assert headers["connection"] == "close"
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = curl(d, "-X", method)
        assert status == 405 and headers["allow"] == "GET, HEAD", method
    for junk in (b"garbage\r\n\r\n", b"\r\n\r\n", b"GET /metrics\r\n\r\n",
                 b"GET  /metrics HTTP/1.1\r\n\r\n", b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                 b"GET /metrics FTP/1.0\r\n\r\n", b"GET /metrics HTTP/1.1\x00\r\n\r\n",
                 b"GET /metrics HTTP/1.1\r\n"):   # ended before its empty line
        assert raw(d, junk).startswith(b"HTTP/1.1 400 Bad Request\r\n"), junk
    assert raw(d, b"GET /metrics HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    # The head is bounded in size and in time.
    big = b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    assert raw(d, big).startswith(b"HTTP/1.1 431 ")
    with socket.create_connection(("127.0.0.1", d.mport), timeout=20) as s:
        s.sendall(b"GET /metr")
        t0 = time.monotonic()
        assert bgs.recv_all(s).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - t0 < 15
    assert d.wait_log("answered 405 Method Not Allowed")


def test_slow_metrics_caller_does_not_block_the_master(daemon_factory):
    d = metrics_daemon(daemon_factory, limits={"request_timeout": 5})
    with socket.create_connection(("127.0.0.1", d.mport), timeout=20) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")     # and nothing more yet
        assert d.request(b"upper:still served") == b"STILL SERVED"
        assert curl(d)[0] == 200
        s.sendall(b"\r\n")
        assert bgs.recv_all(s).startswith(b"HTTP/1.1 200 OK\r\n")


def test_own_allow_list(daemon_factory):
    # The main listener admits 127.0.0.1 only, the metrics one 127.0.0.2 only.
    d = metrics_daemon(daemon_factory, allow=["127.0.0.2/32"], extra={"allow": ["127.0.0.1"]})
    status, headers, body = curl(d, source="127.0.0.2")
    assert status == 200 and headers["content-type"] == TYPE
    status, headers, body = curl(d, source="127.0.0.1")
    assert status == 403 and body == b"Access denied\n"
    assert d.wait_log("refused 127.0.0.1:")
    assert d.request(b"upper:main") == b"MAIN"
    assert scrape_from(d, "127.0.0.2")['bgserviced_refused_total{reason="denied"}'] >= 1


def scrape_from(d, source):
    status, _, body = curl(d, source=source)
    assert status == 200
    return samples(body.decode())


def test_without_own_allow_the_global_one_applies(daemon_factory):
    d = metrics_daemon(daemon_factory, extra={"allow": ["127.0.0.1"]})
    assert curl(d, source="127.0.0.1")[0] == 200
    assert curl(d, source="127.0.0.2")[0] == 403


def exercise(d):
    """Two calls of upper, one of nap, a failure, a 415 and a job."""
    assert d.request(b"upper:a") == b"A"
    assert d.request(b"upper:b") == b"B"
    assert d.request(b"nap:x") == b"rested\n"
    assert d.request(b"fail:x").startswith(b"502: ")
    assert d.request("latin:\u20ac".encode()).startswith(b"415: ")
    jid = d.request(b"queue:add:nap:job")[3:]
    assert d.request(b"queue:get:id:" + jid) == b"rested\n"


def test_promtool_check_metrics(daemon_factory, tmp_path):
    d = metrics_daemon(daemon_factory)
    exercise(d)
    status, _, body = curl(d)
    assert status == 200
    (tmp_path / "m.txt").write_bytes(body)
    r = subprocess.run([tool("promtool"), "check", "metrics"], input=body,
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b"", r
    # The units are base units: no milliseconds left.
    assert b"milliseconds" not in body
    assert b"bgserviced_run_seconds_total{service=\"nap\"}" in body


def test_histograms_count_known_runs(daemon_factory):
    d = metrics_daemon(daemon_factory)
    exercise(d)
    m = scrape(d)

    def bucket(kind, service, le):
        return m['bgserviced_%s_duration_seconds_bucket{service="%s",le="%s"}' % (kind, service, le)]

    les = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
           "1", "2.5", "5", "10", "30", "60", "+Inf"]
    for kind in ("call", "job"):
        for service in SERVICES:
            counts = [bucket(kind, service, le) for le in les]
            assert counts == sorted(counts), (kind, service, counts)
            assert counts[-1] == m['bgserviced_%s_duration_seconds_count{service="%s"}'
                                   % (kind, service)]
    # nap sleeps 0.2 s: never in a bucket of 0.1 s or less; once as a call,
    # once as a job.
    assert bucket("call", "nap", "0.1") == 0 and bucket("call", "nap", "+Inf") == 1
    assert bucket("job", "nap", "0.1") == 0 and bucket("job", "nap", "+Inf") == 1
    assert bucket("call", "nap", "60") == 1
    assert 0.2 <= m['bgserviced_call_duration_seconds_sum{service="nap"}'] < 60
    assert 0.2 <= m['bgserviced_job_duration_seconds_sum{service="nap"}'] < 60
    # Two quick calls of upper, in some bucket of 60 s or less.
    assert bucket("call", "upper", "60") == 2 and bucket("job", "upper", "+Inf") == 0
    assert m['bgserviced_calls_total{service="upper"}'] == 2
    # Run time in seconds: the call and the job of nap.
    assert 0.4 <= m['bgserviced_run_seconds_total{service="nap"}'] < 120


def test_failures_split_caller_and_service(daemon_factory):
    d = metrics_daemon(daemon_factory)
    exercise(d)
    # A job whose data the service's charset cannot take: the caller's too.
    jid = d.request("queue:add:latin:\u20ac".encode())[3:]
    assert d.request(b"queue:get:id:" + jid).startswith(b"415: ")
    m = scrape(d)
    assert m['bgserviced_failures_total{service="latin",fault="caller"}'] == 2
    assert m['bgserviced_failures_total{service="latin",fault="service"}'] == 0
    assert m['bgserviced_failures_total{service="fail",fault="service"}'] == 1
    assert m['bgserviced_failures_total{service="fail",fault="caller"}'] == 0
    assert m['bgserviced_failures_total{service="upper",fault="service"}'] == 0
    assert m['bgserviced_failures_total{service="nap",fault="service"}'] == 0


def test_stats_verb_answers_the_same_set(daemon_factory):
    d = metrics_daemon(daemon_factory)
    exercise(d)
    http = scrape(d)
    verb = samples(d.request(b"stats").decode())
    assert set(http) == set(verb)
    assert http['bgserviced_calls_total{service="upper"}'] == \
        verb['bgserviced_calls_total{service="upper"}'] == 2


def test_reload_adds_moves_and_removes_the_listener(daemon_factory):
    d = daemon_factory(services=SERVICES).start()
    d.mport = bgs.free_port()
    d.settings["metrics"] = {"address": "127.0.0.1", "port": d.mport}
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: bgs.connects(("127.0.0.1", d.mport)), 10)
    assert curl(d)[0] == 200
    old = d.mport
    d.mport = bgs.free_port()
    d.settings["metrics"] = {"address": "127.0.0.1", "port": d.mport}
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: bgs.connects(("127.0.0.1", d.mport)), 10)
    assert curl(d)[0] == 200
    assert bgs.wait_until(lambda: not bgs.connects(("127.0.0.1", old)), 10)
    assert d.wait_log("closing listener 127.0.0.1:%d/http" % old)
    # A new allow list applies to the next caller, on the same socket.
    d.settings["metrics"]["allow"] = ["127.0.0.2"]
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: curl(d)[0] == 403, 10)
    assert curl(d, source="127.0.0.2")[0] == 200
    del d.settings["metrics"]
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: not bgs.connects(("127.0.0.1", d.mport)), 10)
    assert d.request(b"upper:still") == b"STILL"


def test_bad_metrics_block_is_refused(daemon_factory):
    port = bgs.free_port()
    cases = [({"address": "127.0.0.1"}, "needs 'address' and 'port'"),
             ({"address": "localhost", "port": port}, "not a numeric"),
             ({"address": "127.0.0.1", "port": port, "path": "/x"}, "unknown key 'path'"),
             ({"address": "127.0.0.1", "port": port, "allow": []}, "'allow' is empty")]
    for i, (block, msg) in enumerate(cases):
        d = daemon_factory(sub="bad%d" % i, extra={"metrics": block})
        r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                           timeout=30, env=d.env())
        assert r.returncode != 0 and msg in r.stderr, (block, r.stderr)
    d = daemon_factory(sub="same")
    d.settings["metrics"] = {"address": "127.0.0.1", "port": d.port}
    d.write_config()
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                       timeout=30, env=d.env())
    assert r.returncode != 0 and "of a listen entry" in r.stderr, r.stderr


def prometheus_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            ans = json.load(r)
    except OSError:
        return None
    if ans.get("status") != "success" or not ans["data"]["result"]:
        return None
    return ans["data"]["result"]


def readme_queries():
    """The PromQL column of README's dashboard table."""
    with open(os.path.join(bgs.REPO, "README.md")) as f:
        text = f.read()
    rows = re.findall(r"^\| [^|]+ \| `(bgserviced_\w+)` \| `([^`]+)` \|$", text, re.M)
    assert len(rows) >= 4, "no dashboard table in README.md"
    return rows


def prometheus_status(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def test_prometheus_scrapes_it(daemon_factory, tmp_path):
    d = metrics_daemon(daemon_factory)
    exercise(d)
    pport = bgs.free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: bgserviced\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % d.mport)
    log = open(tmp_path / "prometheus.log", "wb")
    p = subprocess.Popen([tool("prometheus"), "--config.file=%s" % conf,
                          "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                          "--web.listen-address=127.0.0.1:%d" % pport],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(tmp_path))
    try:
        res = bgs.wait_until(lambda: prometheus_query(
            pport, 'bgserviced_calls_total{service="upper"}'), 60, 0.5)
        assert res, (tmp_path / "prometheus.log").read_text()[-3000:]
        assert res[0]["value"][1] == "2"
        assert res[0]["metric"]["job"] == "bgserviced"
        up = prometheus_query(pport, 'up{job="bgserviced"}')
        assert up and up[0]["value"][1] == "1"
        # The histogram is usable as such: p99 of nap's calls is within
        # the bucket the run landed in (0.1 s to 60 s).
        q = prometheus_query(pport, 'histogram_quantile(0.99, '
                             'bgserviced_call_duration_seconds_bucket{service="nap"})')
        assert q and 0.1 <= float(q[0]["value"][1]) <= 60
        # Every query of README's dashboard is valid PromQL on what the
        # daemon exposes, and names a metric that it exposes.
        names = {k.split("{")[0] for k in scrape(d)}
        for metric, query in readme_queries():
            assert metric in query and (metric in names or metric + "_bucket" in names), metric
            ans = prometheus_status(pport, query)
            assert ans["status"] == "success", (query, ans)
    finally:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        log.close()


@pytest.mark.parametrize("line,code", [
    (b"GET /metrics HTTP/1.1", 200), (b"HEAD /metrics HTTP/1.0", 200),
    (b"POST /metrics HTTP/1.1", 405), (b"GET /other HTTP/1.1", 404)])
def test_request_line_codes(daemon_factory, line, code):
    d = metrics_daemon(daemon_factory)
    ans = raw(d, line + b"\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n")
    assert re.match(rb"HTTP/1\.1 %d " % code, ans), ans[:80]


def test_documented_blocks_are_valid(daemon_factory):
    # The metrics blocks of README.md, bgserviced.conf(5) and the example
    # configuration (commented out there) pass bgserviced -t.
    with open(os.path.join(bgs.REPO, "README.md")) as f:
        readme = re.search(r"^    metrics = \{\n.*?^    \};\n", f.read(), re.M | re.S).group(0)
    with open(os.path.join(bgs.REPO, "man", "bgserviced.conf.5")) as f:
        page = re.search(r"^metrics = \{\n.*?^\};\n", f.read(), re.M | re.S).group(0)
    with open(os.path.join(bgs.REPO, "etc", "bgserviced.conf")) as f:
        etc = "".join(ln[1:] for ln in re.search(r"^#metrics = \{\n.*?^#\};\n", f.read(),
                                                  re.M | re.S).group(0).splitlines(True))
    for i, block in enumerate((readme, page, etc)):
        d = daemon_factory(sub="doc%d" % i)
        with open(d.conf, "a") as f:
            f.write(block)
        r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                           timeout=30, env=d.env())
        assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr, (block, r)
