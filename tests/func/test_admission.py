"""Admission beyond the allow lists (issue 15): refusals counted by
reason and logged with a limit, tokens on framed requests."""
import os
import re
import signal
import socket
import time

import bgs

svc = bgs.svc
stat_value = bgs.stat_value

REASONS = ("denied", "credentials", "token", "signature", "rate", "quota",
           "per_source", "busy", "queue_full", "too_large", "timeout")


def refused(d, reason):
    return stat_value(d, 'bgserviced_refused_total{reason="%s"}' % reason)


def framed(d, header, payload=b""):
    """One framed request on a connection of its own: (code, payload)."""
    with d.connect() as s:
        s.sendall(header + b"\n" + payload)
        return bgs.read_framed(s)


# Refusals by reason

def test_every_reason_is_a_sample(daemon):
    text = daemon.request(b"stats").decode()
    found = re.findall(r'^bgserviced_refused_total\{reason="(\w+)"\} \d+$', text, re.M)
    assert sorted(found) == sorted(REASONS)


def test_refusals_counted_and_logged_by_reason(daemon_factory, tmp_path):
    sock = str(tmp_path / "d" / "sock")
    d = daemon_factory(services={
        "echo": {"command": ["/bin/cat"]},
        "only2": {"command": ["/bin/cat"], "allow": ["127.0.0.2"]}},
        limits={"max_request": 100, "request_timeout": 1},
        listen=None)
    d.settings["listen"].append({"path": sock, "allow_uid": [65534]})
    d.write_config()
    d.start()
    assert d.call("only2", b"x") == b"403: Access denied\n"
    assert d.call("echo", b"x" * 500) == b"413: Request too large\n"
    with d.connect() as s:       # says nothing: request_timeout
        assert bgs.recv_all(s) == b"408: Request timeout\n"
    assert bgs.wait_until(lambda: os.path.exists(sock), 10)
    with socket.socket(socket.AF_UNIX) as u:
        u.settimeout(10)
        u.connect(sock)
        assert bgs.recv_all(u) == b"403: Access denied\n"
    assert refused(d, "denied") == 1
    assert refused(d, "too_large") == 1
    assert refused(d, "timeout") == 1
    assert refused(d, "credentials") == 1
    log = d.log()
    for reason in ("denied", "too_large", "timeout", "credentials"):
        assert re.search(r"refused.*\(%s\)$" % reason, log, re.M) or \
            re.search(r"(request timed out|request too large) \(%s\)$" % reason, log, re.M), \
            (reason, log)


def test_refusal_log_is_limited(daemon_factory):
    """A flood of refused callers is counted whole, but logs at most
    REFUSE_LOG_PER_SEC (20) lines a second, then says how many it did
    not log."""
    d = daemon_factory(services={"only2": {"command": ["/bin/cat"],
                                           "allow": ["127.0.0.2"]}}).start()
    n = 150
    t0 = time.monotonic()
    for _ in range(n):
        assert d.call("only2", b"x") == b"403: Access denied\n"
    seconds = time.monotonic() - t0
    assert refused(d, "denied") == n
    lines = len(re.findall(r"\(denied\)$", d.log(), re.M))
    assert 1 <= lines <= 20 * (int(seconds) + 2), (lines, seconds)
    if lines < n:
        time.sleep(1.1)
        assert d.call("only2", b"x") == b"403: Access denied\n"
        assert d.wait_log("more refusals not logged", 10), d.log()[-2000:]
        m = re.findall(r"(\d+) more refusals not logged", d.log())
        assert sum(int(x) for x in m) + lines == n, (m, lines)


# Tokens

TOKSVC = {"echo": {"command": ["/bin/cat"]},
          "sec": {"command": ["/bin/cat"], "tokens": ["s3cret-one", "s3cret-two"]},
          "open": {"command": ["/bin/cat"], "tokens": ["s3cret-one"],
                   "allow_untokened": True}}


def test_token_right_wrong_missing(daemon_factory):
    d = daemon_factory(services=TOKSVC).start()
    assert framed(d, b"!call sec 3 token=s3cret-one", b"abc") == (200, b"abc")
    assert framed(d, b"!call sec 3 token=s3cret-two", b"abc") == (200, b"abc")
    assert framed(d, b"!call sec token=s3cret-one") == (200, b"")
    assert framed(d, b"!call sec 3 token=s3cret-on", b"abc") == \
        (401, b"Token missing or wrong")
    assert framed(d, b"!call sec 3 token=s3cret-one-", b"abc")[0] == 401
    assert framed(d, b"!call sec 3", b"abc")[0] == 401
    assert d.call("sec", b"abc") == b"401: Token missing or wrong\n"
    assert refused(d, "token") == 4
    # A service without tokens takes a token as nothing.
    assert framed(d, b"!call echo 2 token=whatever", b"hi") == (200, b"hi")
    # allow_untokened: no token is let in by address, a wrong one is not.
    assert d.call("open", b"abc") == b"abc"
    assert framed(d, b"!call open 3", b"abc") == (200, b"abc")
    assert framed(d, b"!call open 3 token=nope", b"abc")[0] == 401
    assert refused(d, "token") == 5


def test_token_typed_into_nc(daemon_factory):
    d = daemon_factory(services=TOKSVC).start()
    with d.connect() as s:
        s.sendall(b"!call sec 6 token=s3cret-two\r\nhello\n")
        assert bgs.read_framed(s) == (200, b"hello\n")


def test_token_for_send_add_and_datagram(daemon_factory, tmp_path):
    out = tmp_path / "ran"
    services = {"sec": svc("cat >> %s" % out, tokens=["tok"], udp=True)}
    d = daemon_factory(services=services,
                       listen=None)
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()
    assert framed(d, b"!send sec 1 token=bad", b"a")[0] == 401
    assert framed(d, b"!send sec 1 token=tok", b"s") == (202, b"")
    code, jid = framed(d, b"!add sec 1 token=tok", b"j")
    assert code == 200, jid
    assert bgs.job_get(d, jid.decode()) == b""
    assert framed(d, b"!add sec 1", b"x")[0] == 401
    assert d.request(b"queue:add:sec:x") == b"401: Token missing or wrong\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"sec:u", ("127.0.0.1", d.port))
    assert bgs.wait_until(lambda: refused(d, "token") == 4, 10)
    assert bgs.wait_until(lambda: out.exists() and sorted(out.read_text()) == ["j", "s"], 10)


def test_global_tokens_and_reload(daemon_factory):
    d = daemon_factory(services={"echo": {"command": ["/bin/cat"]},
                                 "own": {"command": ["/bin/cat"], "tokens": ["mine"]}},
                       extra={"tokens": ["global-1"]}).start()
    assert framed(d, b"!call echo 1 token=global-1", b"x") == (200, b"x")
    assert framed(d, b"!call echo 1", b"x")[0] == 401
    assert framed(d, b"!call own 1 token=global-1", b"x")[0] == 401
    assert framed(d, b"!call own 1 token=mine", b"x") == (200, b"x")
    d.settings["tokens"] = ["global-2"]
    d.settings["allow_untokened"] = True
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(
        lambda: framed(d, b"!call echo 1 token=global-2", b"x") == (200, b"x"), 10)
    assert framed(d, b"!call echo 1 token=global-1", b"x")[0] == 401
    assert d.call("echo", b"y") == b"y"


def test_token_never_logged_nor_in_titles(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    secret = b"Zq8-unlikely-SECRET-7"
    d = daemon_factory(services={"slow": svc(
        "while [ ! -e %s ]; do sleep 0.05; done; cat" % gate,
        tokens=[secret.decode()])}).start()
    s = d.connect(timeout=30)
    s.sendall(b"!call slow 1 token=" + secret + b"\nx")
    titles = []

    def running():
        titles[:] = []
        for p in bgs.child_pids(d.pid):
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    titles.append(f.read())
            except OSError:
                pass
        return any(b"call slow" in t for t in titles)
    assert bgs.wait_until(running, 10), titles
    with open("/proc/%d/cmdline" % d.pid, "rb") as f:
        titles.append(f.read())
    gate.write_text("go")
    assert bgs.read_framed(s) == (200, b"x")
    s.close()
    assert framed(d, b"!call slow 1 token=wrong-" + secret, b"x")[0] == 401
    assert d.request(b"stats").find(secret) == -1
    assert all(secret not in t for t in titles), titles
    assert secret.decode() not in d.log()


# Rate limits

def retry_of(answer):
    m = re.match(rb"^429: Too many requests: retry after (\d+) s\n$", answer)
    assert m, answer
    return int(m.group(1))


def framed_head(d, header, payload=b""):
    """A framed request; the answer's header line and payload."""
    with d.connect() as s:
        s.sendall(header + b"\n" + payload)
        s.shutdown(socket.SHUT_WR)
        data = bgs.recv_all(s)
    head, _, rest = data.partition(b"\n")
    return head, rest


def test_source_rate_slows_one_source_only(daemon_factory):
    # (A service without source_rate: the master cannot tell a source
    # over every limit, so the connection child answers; see below.)
    d = daemon_factory(services={"echo": {"command": ["/bin/cat"],
                                          "source_rate": 1, "source_burst": 2},
                                 "free": {"command": ["/bin/cat"]}}).start()
    one = lambda: bgs.request_from(d.port, "127.0.0.1", b"echo:a")  # noqa: E731
    assert one() == b"a" and one() == b"a"
    over = one()
    retry = retry_of(over)
    assert 1 <= retry <= 2
    # Another source at the same moment is served normally.
    assert bgs.request_from(d.port, "127.0.0.2", b"echo:b") == b"b"
    assert bgs.request_from(d.port, "127.0.0.2", b"echo:b") == b"b"
    # Framed, the seconds come as a field of the header too.
    head, text = framed_head(d, b"!call echo 1", b"x")
    m = re.match(rb"^!429 (\d+) retry=(\d+)$", head)
    assert m and int(m.group(1)) == len(text), (head, text)
    assert text.startswith(b"Too many requests: retry after")
    # Honoured, the retry is admitted: the service was never disabled.
    time.sleep(int(m.group(2)))
    assert one() == b"a"
    assert refused(d, "rate") == 2


def test_source_over_every_limit_refused_by_master(daemon_factory):
    d = daemon_factory(services={"echo": {"command": ["/bin/cat"]}},
                       extra={"source_rate": 1, "source_burst": 2}).start()
    one = lambda: bgs.request_from(d.port, "127.0.0.1", b"echo:a")  # noqa: E731
    assert one() == b"a" and one() == b"a"
    retry = retry_of(one())
    assert 1 <= retry <= 2
    assert d.wait_log("over the source_rate of every service (rate)")
    # Whatever it asks: its stats too, while another source is served.
    assert retry_of(d.request(b"stats")) >= 1
    assert bgs.request_from(d.port, "127.0.0.2", b"echo:b") == b"b"
    # Framed: the answer is framed if the master saw the header's first
    # byte, else the original form's line; the seconds are in both.
    head, text = framed_head(d, b"!call echo 1", b"x")
    m = re.match(rb"^!429 (\d+) retry=(\d+)$", head)
    if m:
        assert int(m.group(1)) == len(text), (head, text)
    else:
        assert retry_of(head + b"\n" + text) >= 1
    # The client reads either as a refusal that says when to retry.
    r = d.run_client("call", "echo", input=b"x")
    assert r.returncode != 0 and b"retry after" in r.stderr, r
    time.sleep(retry)
    assert one() == b"a"
    assert stat_value(d, 'bgserviced_refused_total{reason="rate"}',
                      "127.0.0.3") >= 4


def test_service_rate_and_datagrams(daemon_factory, tmp_path):
    out = tmp_path / "ran"
    d = daemon_factory(services={
        "log": svc("cat >> %s" % out, rate=1, burst=1),
        "echo": {"command": ["/bin/cat"]}}, listen=None)
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()
    # One a second for the whole service, whoever calls: of calls from
    # two sources back to back, some are refused (the service stays
    # limited, not disabled: at most one a second, and one more, runs).
    answers = []
    t0 = time.monotonic()
    for i in range(10):
        answers.append(bgs.request_from(d.port, "127.0.0.%d" % (1 + i % 2), b"log:%d" % i))
    seconds = time.monotonic() - t0
    ran = answers.count(b"")
    assert all(a == b"" or retry_of(a) >= 1 for a in answers), answers
    assert 1 <= ran <= int(seconds) + 2 and ran < 10, (answers, seconds)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for _ in range(3):
            u.sendto(b"log:u", ("127.0.0.1", d.port))
    assert bgs.wait_until(lambda: stat_value(d, "bgserviced_datagrams_dropped_total") >= 1, 10)
    assert refused(d, "rate") == 10 - ran + stat_value(d, "bgserviced_datagrams_dropped_total")
    assert d.call("echo", b"free") == b"free"      # other services are not limited
    assert bgs.wait_until(lambda: len(out.read_text()) == 10 - refused(d, "rate") + 3, 10)


def test_global_rate_reloaded(daemon_factory):
    d = daemon_factory().start()
    for _ in range(5):
        assert d.call("echo", b"x") == b"x"
    d.settings["source_rate"] = 1
    d.settings["source_burst"] = 1
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: d.call("echo", b"x").startswith(b"429: "), 10)
    assert stat_value(d, 'bgserviced_refused_total{reason="rate"}') >= 1


# Signed datagrams

import hashlib  # noqa: E402
import hmac  # noqa: E402

KEY = b"0123456789abcdef-shared"


def signed(service, data, key=KEY, when=None):
    stamp = b"%d" % int(time.time() if when is None else when)
    mac = hmac.new(key, service + b"\n" + stamp + b"\n" + data, hashlib.sha256).hexdigest()
    return b"!sig " + stamp + b" " + mac.encode() + b"\n" + service + b":" + data


def test_signed_datagrams(daemon_factory, tmp_path):
    out = tmp_path / "ran"
    d = daemon_factory(services={
        "log": svc("cat >> %s; echo >> %s" % (out, out), udp_signed=True, udp_key=KEY.decode()),
        "open": svc("cat >> %s; echo >> %s" % (out, out))}, listen=None)
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()

    def send(b):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b, ("127.0.0.1", d.port))

    good = signed(b"log", b"good")
    send(good)
    assert bgs.wait_until(lambda: out.exists() and out.read_text() == "good\n", 10)
    send(good)                                              # replayed
    send(signed(b"log", b"forged", key=b"another-key-of-16+"))   # forged
    send(signed(b"log", b"stale", when=time.time() - 120))     # stale
    send(signed(b"log", b"future", when=time.time() + 120))    # from the future
    send(b"log:unsigned")                                      # unsigned
    send(good.replace(b":good", b":evil"))                     # data changed
    assert bgs.wait_until(lambda: refused(d, "signature") == 6, 10), d.log()
    assert stat_value(d, "bgserviced_datagrams_dropped_total") == 6
    for what in ("replayed", "bad signature", "outside its time window", "not signed for log"):
        assert what in d.log(), what
    # A service that does not ask for signatures still takes unsigned
    # datagrams; a signed one there needs a key to check it by.
    send(b"open:plain")
    # The service writes the data, then a newline: wait for both.
    assert bgs.wait_until(lambda: out.read_text() == "good\nplain\n", 10), \
        out.read_text()
    assert KEY.decode() not in d.log()
    assert d.request(b"stats").find(KEY) == -1


def test_signed_datagram_passes_tokens(daemon_factory, tmp_path):
    """A good signature stands for a token; an unsigned datagram to a
    service with tokens is dropped."""
    out = tmp_path / "ran"
    d = daemon_factory(services={"tok": svc("cat >> %s" % out, tokens=["t0k"])},
                       listen=None, extra={"udp_key": KEY.decode()})
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"tok:plain", ("127.0.0.1", d.port))
        u.sendto(signed(b"tok", b"signed"), ("127.0.0.1", d.port))
    assert bgs.wait_until(lambda: out.exists() and out.read_text() == "signed", 10)
    assert bgs.wait_until(lambda: refused(d, "token") == 1, 10)


# The client: -K, token and udp_key in its configuration

def test_client_token_and_udp_key(daemon_factory, tmp_path):
    out = tmp_path / "ran"
    d = daemon_factory(services={
        "sec": {"command": ["/bin/cat"], "tokens": ["cli-t0ken"]},
        "log": svc("cat >> %s" % out, udp_signed=True, udp_key=KEY.decode())},
        listen=None)
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()
    r = d.run_client("call", "sec", "x")
    assert r.returncode == 2 and b"401" in r.stderr, r
    r = d.run_client("-K", "cli-t0ken", "call", "sec", "x")
    assert r.returncode == 0 and r.stdout == b"x", r
    conf = tmp_path / "client.conf"
    conf.write_text('default = { token = "cli-t0ken"; };\n'
                    'services = { log = { udp_key = "%s"; }; };\n' % KEY.decode())
    r = d.run_client("-c", str(conf), "call", "sec", "y")
    assert r.returncode == 0 and r.stdout == b"y", r
    r = d.run_client("-c", str(conf), "send", "log", "signed")
    assert r.returncode == 0, r
    assert bgs.wait_until(lambda: out.exists() and out.read_text() == "signed", 10)
    r = d.run_client("send", "log", "unsigned")
    assert r.returncode == 0, r
    assert bgs.wait_until(lambda: refused(d, "signature") == 1, 10)
    assert out.read_text() == "signed"


# Quotas per source

def jobs_gauge(d, state):
    return stat_value(d, 'bgserviced_jobs{state="%s"}' % state)


def add_from(d, source, service, data=b"x"):
    return bgs.request_from(d.port, source, b"queue:add:%s:%s" % (service.encode(), data))


def test_max_queued_per_source(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(services={"wait": svc(
        "while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60)},
        limits={"max_jobs": 1}, extra={"max_queued_per_source": 2}).start()
    ids = [add_from(d, "127.0.0.1", "wait") for _ in range(3)]
    assert all(i.startswith(b"id:") for i in ids), ids
    # One runs, two are queued: the source's quota is full.
    assert bgs.wait_until(lambda: jobs_gauge(d, "queued") == 2 and
                          jobs_gauge(d, "running") == 1, 15)
    assert add_from(d, "127.0.0.1", "wait") == \
        b"429: Too many jobs queued from your address\n"
    # Another source can still queue.
    other = add_from(d, "127.0.0.2", "wait")
    assert other.startswith(b"id:"), other
    assert refused(d, "quota") == 1
    assert "(quota)" in d.log()
    gate.write_text("go")
    for i in ids + [other]:
        assert bgs.job_get(d, i[3:].decode()) == b"x"
    # Its jobs done, the source may queue again.
    assert add_from(d, "127.0.0.1", "wait").startswith(b"id:")


def test_max_running_per_source(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    d = daemon_factory(services={"wait": svc(
        "while [ ! -e %s ]; do sleep 0.05; done; cat" % gate, timeout=60,
        max_running_per_source=1)}, limits={"max_jobs": 4}).start()
    a1, a2 = (add_from(d, "127.0.0.1", "wait")[3:].decode() for _ in range(2))
    b1 = add_from(d, "127.0.0.2", "wait")[3:].decode()
    # The first source runs one job at a time; the other is not held up.
    assert bgs.wait_until(lambda: bgs.job_check(d, b1) == b"1", 15)
    assert bgs.wait_until(lambda: bgs.job_check(d, a1) == b"1", 15)
    time.sleep(0.5)     # room for a dispatch that should not happen
    assert bgs.job_check(d, a2) == b"0"
    assert jobs_gauge(d, "running") == 2
    gate.write_text("go")
    for i in (a1, a2, b1):
        assert bgs.job_get(d, i) == b"x"
