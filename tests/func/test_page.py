"""The status page of the metrics listener: GET / and GET /jobs/ID, loaded
in a real headless browser (chromium) against the real daemon; what it
shows is escaped, it can change nothing, and it costs the master nothing
while no one asks."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
from html.parser import HTMLParser

import bgs
from test_metrics import curl, metrics_daemon, tool

svc = bgs.svc
SERVICES = {
    "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
    "nap": svc("sleep 0.2; echo rested"),
    "fail": svc("exit 3"),
    "hold": svc("exec sleep 60", timeout=120),
}
# Void elements: no end tag, no children.
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base",
        "embed", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.parts = [], []

    def text(self):
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, tag=None, **attrs):
        """Every element below with TAG and the ATTRS given (class_ for
        class: one of its classes)."""
        out = []
        for n in self.walk():
            if tag is not None and n.tag != tag:
                continue
            ok = True
            for k, v in attrs.items():
                if k == "class_":
                    ok = ok and v in n.attrs.get("class", "").split()
                else:
                    ok = ok and n.attrs.get(k.replace("_", "-")) == v
            if ok:
                out.append(n)
        return out

    def one(self, tag=None, **attrs):
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class Tree(HTMLParser):
    """The DOM that chromium --dump-dom prints, as Nodes."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", [], None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        self.cur.parts.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        self.cur.parts.append(n)

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.parts.append(data)


def chromium(tmp_path, url, *args, timeout=120):
    """Run headless chromium on URL with ARGS; its standard output.  It
    runs in a session of its own, killed whole if it overstays."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=str(tmp_path))
    cmd = [tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update",
           "--user-data-dir=" + profile] + list(args) + [url]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)
        raise AssertionError("chromium ran over %d s on %s" % (timeout, url))
    assert p.returncode == 0, (p.returncode, err.decode(errors="replace")[-3000:])
    return out


def dom(tmp_path, d, path="/"):
    text = chromium(tmp_path, "http://127.0.0.1:%d%s" % (d.mport, path),
                    "--dump-dom").decode()
    assert text.lstrip().startswith("<!DOCTYPE html>\n<html"), text[:200]
    return Tree(text).root


def screenshot(tmp_path, d, name="status-page.png"):
    shot = tmp_path / name
    chromium(tmp_path, "http://127.0.0.1:%d/" % d.mport,
             "--screenshot=%s" % shot, "--window-size=1200,900",
             "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, len(data)
    return shot


def assert_read_only(root):
    """Nothing that runs, sends or loads: no script, form, button,
    input, no frame, no link or source away from the daemon."""
    for tag in ("script", "form", "button", "input", "select", "textarea",
                "iframe", "object", "embed", "img", "link"):
        assert root.find(tag) == [], tag
    for n in root.walk():
        for k, v in n.attrs.items():
            assert not k.startswith("on"), (n.tag, k)
            if k in ("href", "src", "action", "xlink:href"):
                assert v.startswith("/") and not v.startswith("//"), (n.tag, k, v)


def cells(row):
    return {c: row.one("td", class_=c).text().strip()
            for c in ("calls", "jobs", "failures", "timeouts", "p50", "p99")}


def busy_daemon(daemon_factory):
    """A daemon after calls, a failed call, a failed job, a job that runs
    and one that waits behind it: (daemon, failed job, running, queued)."""
    d = metrics_daemon(daemon_factory, limits={"max_jobs": 1}, services=SERVICES)
    for data in (b"a", b"b", b"c"):
        assert d.request(b"upper:" + data) == data.upper()
    assert d.request(b"nap:x") == b"rested\n"
    assert d.request(b"fail:x").startswith(b"502: ")
    failed = bgs.job_add(d, "fail")
    assert bgs.job_get(d, failed).startswith(b"502: ")
    running = bgs.job_add(d, "hold")
    assert bgs.job_wait_state(d, running, b"1")
    queued = bgs.job_add(d, "upper", b"later")
    assert bgs.job_check(d, queued) == b"0"
    return d, failed, running, queued


def test_status_page_in_a_browser(daemon_factory, tmp_path, build):
    d, failed, running, queued = busy_daemon(daemon_factory)
    root = dom(tmp_path, d)
    assert_read_only(root)
    refresh = root.one("meta", http_equiv="refresh")
    assert int(refresh.attrs["content"]) > 0
    # The daemon: its version as -V says, its configuration file.
    version = subprocess.run([d.bin, "-V"], capture_output=True, text=True,
                             timeout=30, env=d.env()).stdout.split()[-1]
    assert root.one(id="version").text() == version
    assert root.one(id="config").text() == d.conf
    assert "none" in root.one(id="reload").text()
    # Per service: counts, latency bounds, a chart of the recent runs.
    table = root.one("table", id="services")
    rows = {r.attrs["data-service"]: r for r in table.find("tr") if "data-service" in r.attrs}
    assert set(SERVICES) <= set(rows), sorted(rows)
    assert cells(rows["upper"]) == dict(cells(rows["upper"]), calls="3", jobs="0",
                                        failures="0", timeouts="0")
    assert cells(rows["fail"])["calls"] == "1" and cells(rows["fail"])["jobs"] == "1"
    assert cells(rows["fail"])["failures"] == "2"
    assert cells(rows["hold"])["calls"] == "0" and cells(rows["hold"])["p50"] == "-"
    # nap slept 0.2 s: its median is in the bucket up to 0.25 s.
    assert cells(rows["nap"])["p50"] == "\u2264 250 ms", cells(rows["nap"])
    assert cells(rows["upper"])["p99"].startswith("\u2264 ")
    for name in ("upper", "fail", "nap"):
        svg = rows[name].one("svg")
        assert len(svg.find("rect")) >= 2 and svg.find("polyline"), name
    assert len(rows["fail"].one("svg").find("rect", fill="#c44")) >= 1
    assert len(rows["hold"].one("svg").find("rect")) == 1    # the background only
    # The queue: one waits (behind hold), one runs, one failed and done.
    q = root.one("table", id="queue")
    assert q.one(class_="queued").text() == "1"
    assert q.one(class_="running").text() == "1"
    assert int(q.one(class_="done").text()) >= 1
    assert q.one(class_="oldest").text().endswith(" s")
    # The failed job, linked to its page.
    rows = root.one("table", id="failed").find("tr", class_="failed-job")
    assert len(rows) == 1
    assert rows[0].one("a").text() == failed
    assert rows[0].one("a").attrs["href"] == "/jobs/" + failed
    assert rows[0].one(class_="service").text() == "fail"
    assert rows[0].one(class_="code").text() == "502"
    assert rows[0].one(class_="message").text() == "Service fail failed with exit status 3"
    assert root.one("table", id="refusals").one(class_="denied").text() == "0"
    # The screenshot, kept: in the test's folder and in build/.
    shot = screenshot(tmp_path, d)
    if build == "plain":
        shutil.copy(shot, os.path.join(bgs.REPO, "build", "status-page.png"))
    assert d.request(b"queue:cancel:id:" + running.encode()) == b"cancelled"


def test_job_page_in_a_browser(daemon_factory, tmp_path):
    d, failed, running, queued = busy_daemon(daemon_factory)
    root = dom(tmp_path, d, "/jobs/" + failed)
    assert_read_only(root)
    info = bgs.job_info(d, failed)
    job = root.one("table", id="job")
    shown = {r.one("th").text(): r.one("td").text() for r in job.find("tr")}
    assert shown == info
    assert shown["code"] == "502" and shown["state"] == "failed"
    root = dom(tmp_path, d, "/jobs/" + queued)
    assert root.one("td", class_="state").text() == "queued"
    assert d.request(b"queue:cancel:id:" + running.encode()) == b"cancelled"


def test_pages_answer_html_and_statuses(daemon_factory):
    d = metrics_daemon(daemon_factory, services=SERVICES)
    jid = bgs.job_add(d, "upper", b"x")
    assert bgs.job_get(d, jid) == b"X"
    for path in ("/", "/?refresh", "/jobs/" + jid):
        status, headers, body = curl(d, path=path)
        assert status == 200, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert int(headers["content-length"]) == len(body)
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert body.startswith(b"<!DOCTYPE html>") and b"<script" not in body
    status, headers, body = curl(d, "--head", path="/")
    assert status == 200 and int(headers["content-length"]) > 0 and body == b""
    # An id no job has, one that is not an id, a path under /jobs.
    for path in ("/jobs/0123456789abcdef", "/jobs/" + jid.upper(), "/jobs/x",
                 "/jobs/", "/jobs", "/jobs/" + jid + "/x", "/index.html"):
        assert curl(d, path=path)[0] == 404, path
    status, headers, _ = curl(d, "-X", "POST", path="/")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert curl(d, "-X", "DELETE", path="/jobs/" + jid)[0] == 405
    assert bgs.job_info(d, jid)["state"] == "done"


def test_outside_the_allow_list_no_page_and_no_job(daemon_factory):
    d = metrics_daemon(daemon_factory, allow=["127.0.0.2/32"], services=SERVICES)
    jid = bgs.job_add(d, "upper", b"x")
    assert bgs.job_get(d, jid) == b"X"
    for path in ("/", "/jobs/" + jid):
        status, _, body = curl(d, path=path, source="127.0.0.1")
        assert status == 403 and jid.encode() not in body, path
        assert curl(d, path=path, source="127.0.0.2")[0] == 200, path


def test_markup_in_shown_text_is_escaped(daemon_factory, tmp_path):
    # The configuration file's path is shown: put a script element in it.
    (tmp_path / "<script>document.title='pwned'<").mkdir()
    port = bgs.free_port()
    d = daemon_factory(sub="<script>document.title='pwned'</script>&amp;\"x",
                       services=SERVICES,
                       extra={"metrics": {"address": "127.0.0.1", "port": port}})
    d.mport = port
    d.start()
    assert "<script>" in d.conf
    status, _, body = curl(d, path="/")
    assert status == 200
    assert b"<script" not in body and b"&lt;script&gt;" in body
    assert b"&amp;amp;&quot;x" in body
    root = dom(tmp_path, d)
    assert root.find("script") == []
    assert root.one(id="config").text() == d.conf
    assert "pwned" not in root.one("title").text()
    page = page_text(tmp_path, d)
    assert "<script>document.title='pwned'</script>&amp;\"x" in page


def page_text(tmp_path, d):
    return dom(tmp_path, d).one("body").text()


def test_reload_result_is_shown(daemon_factory):
    d = metrics_daemon(daemon_factory, services=SERVICES)
    d.signal(signal.SIGHUP)
    assert d.wait_log("configuration reloaded")
    status, _, body = curl(d, path="/")
    assert status == 200 and b"<span class=\"ok\">ok</span>" in body, body
    d.write_config("services = (;\n")
    d.signal(signal.SIGHUP)
    assert d.wait_log("reload failed")
    status, _, body = curl(d, path="/")
    assert b"<span class=\"bad\">failed, configuration unchanged</span>" in body
    assert d.request(b"upper:still") == b"STILL"


def test_page_costs_the_master_nothing_while_idle(daemon_factory, tmp_path):
    d = metrics_daemon(daemon_factory, services=SERVICES)
    for _ in range(3):
        assert d.request(b"upper:x") == b"X"
        assert curl(d, path="/")[0] == 200
    dom(tmp_path, d)
    assert bgs.wait_until(lambda: bgs.child_pids(d.pid) == [], 20)
    t0 = bgs.cpu_ticks(d.pid)
    time.sleep(2.5)
    assert bgs.cpu_ticks(d.pid) - t0 == 0
    assert bgs.child_pids(d.pid) == []


def test_job_page_of_a_node_tagged_id(daemon_factory):
    """With a node, ids carry it (web1____-...): their page is found;
    another node's id, or a malformed one, is not."""
    d = metrics_daemon(daemon_factory, services=SERVICES, extra={"node": "web1"})
    jid = bgs.job_add(d, "upper", b"x")
    assert jid.startswith("web1____-") and len(jid) == 25, jid
    assert bgs.job_get(d, jid) == b"X"
    status, _, body = curl(d, path="/jobs/" + jid)
    assert status == 200 and jid.encode() in body
    assert curl(d, path="/jobs/web2____-" + jid[9:])[0] == 404
    assert curl(d, path="/jobs/web1____" + jid[9:])[0] == 404
