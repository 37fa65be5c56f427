"""Where an original-form request without end-of-file ends (bgserviced(8),
"Where a request ends"): as soon as the connection allows, never cutting
a request whose writer pauses less than the documented 2 ms, on a loaded
machine, and never letting a cut request pass for whole."""
import hashlib
import json
import re
import socket
import subprocess
import sys
import time

import bgs

SIZES = [1, 100, 4096, 65536, 300 * 1024, 1 << 20, 4 << 20]
PAUSE = 0.0005          # between the pieces of a request: a quarter of 2 ms
BOUND = 0.002           # the shortest silence that ends a request
CALLERS = 8

# One caller: for each size, once in one write and once in four writes
# with short pauses; never shuts down its side (as PHP's caller); prints
# what it saw as JSON, and the longest pause it really made between two
# writes (a process kept off the CPU by the load pauses longer than it
# asked).  Runs as a process of its own, so no GIL delays it.
CALLER = r"""
import hashlib, json, socket, sys, time
port, seed, pause = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sizes = json.loads(sys.argv[4])
out = []
for n in sizes:
    for pieces in (1, 4):
        body = hashlib.sha256(b"%d-%d" % (seed, n)).hexdigest().encode()
        data = (body * (n // len(body) + 1))[:n]
        req = b"sum:" + data
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        step = len(req) // pieces + 1
        gap = 0.0
        for i in range(0, len(req), step):
            if i:
                time.sleep(pause)
                gap = max(gap, time.monotonic() - sent)
            s.sendall(req[i:i + step])
            sent = time.monotonic()
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        out.append({"n": n, "pieces": pieces, "gap": gap,
                    "want": hashlib.sha256(data).hexdigest(),
                    "got": got.decode("latin-1")})
print(json.dumps(out))
"""

# Keeps one CPU busy; ends by itself after a minute at the most.
HOG = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"


def stat(d, name):
    text = d.request(b"stats").decode()
    m = re.search(r"^bgserviced_%s (\d+)$" % name, text, re.M)
    assert m, text
    return int(m.group(1))


def test_no_request_cut_under_load(daemon_factory, tmp_path):
    d = daemon_factory(
        services={"sum": {"command": ["/usr/bin/sha256sum"]}},
        limits={"max_request": 5 << 20, "request_timeout": 60}).start()
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(3)]
    try:
        callers = [subprocess.Popen(
            [sys.executable, str(script), str(d.port), str(i), str(PAUSE),
             json.dumps(SIZES)], stdout=subprocess.PIPE)
            for i in range(CALLERS)]
        results = []
        for p in callers:
            out, _ = p.communicate(timeout=300)
            assert p.returncode == 0
            results += json.loads(out)
    finally:
        for h in hogs:
            h.kill()
            h.wait(timeout=10)
    assert len(results) == CALLERS * len(SIZES) * 2
    # The promise is for writers that pause less than 2 ms: never cut.
    # The load keeps most of these writers off the CPU for longer than
    # they asked (2 to 25 ms); the daemon stretches its silence by its own
    # wait for a CPU, which covers nearly all of them, but not every one:
    # a few may be cut, and then each is told so, never passed for whole.
    short = [r for r in results if r["gap"] < BOUND]
    long_ = [r for r in results if r["gap"] >= BOUND]
    bad = [(r["n"], r["pieces"], round(r["gap"] * 1000, 2), r["got"][:80])
           for r in short if not r["got"].startswith(r["want"] + "  -")]
    assert not bad, "requests not read whole: %r" % bad
    wrong = [(r["n"], round(r["gap"] * 1000, 2), r["got"][:80]) for r in long_
             if not r["got"].startswith((r["want"] + "  -", "400: Request cut"))]
    assert not wrong, "a cut request passed for whole: %r" % wrong
    cut = [(r["n"], round(r["gap"] * 1000, 2)) for r in long_
           if r["got"].startswith("400: Request cut")]
    assert len(cut) <= 3, "cut (size, real pause in ms): %r" % cut
    assert stat(d, "requests_cut_total") == len(cut), d.log()


def test_small_call_answered_long_before_the_bound(daemon_factory):
    # With a bound of 10 s, only the adaptive silence can end the request
    # quickly; a fixed quiet period would take 10 s.
    d = daemon_factory(limits={"request_idle_ms": 10000,
                               "request_timeout": 30}).start()
    t = time.monotonic()
    assert d.request(b"upper:quick", shutdown=False, timeout=5) == b"QUICK"
    assert time.monotonic() - t < 5


def test_bound_is_request_idle_ms_for_a_slow_writer(daemon_factory):
    # A writer that pauses longer than the bound has its request end at
    # the pause: the answer is for the first part, and the late part is
    # logged and counted, never silently dropped.
    d = daemon_factory(limits={"request_idle_ms": 50}).start()
    with d.connect(timeout=10) as s:
        s.sendall(b"upper:abc")
        time.sleep(0.3)
        try:
            s.sendall(b"def")
        except OSError:
            pass
        assert bgs.recv_all(s) == b"ABC"
    assert bgs.wait_until(lambda: stat(d, "requests_cut_total") == 1, 10), d.log()
    assert re.search(r"request cut: 3 more bytes arrived after 9 bytes", d.log())


def test_cut_call_is_answered_as_an_error(daemon_factory):
    # The rest arrives while the service runs: the call is not answered
    # as a success on part of its data.
    d = daemon_factory(services={"slow": bgs.svc("sleep 0.6; cat")},
                       limits={"request_idle_ms": 50}).start()
    with d.connect(timeout=10) as s:
        s.sendall(b"slow:abc")
        time.sleep(0.3)
        s.sendall(b"def")
        got = bgs.recv_all(s)
    assert got == b"400: Request cut: more data arrived after it ended\n"
    assert stat(d, "requests_cut_total") == 1
    assert "request cut" in d.log()


def test_pieces_within_the_silence_are_one_request(daemon_factory):
    d = daemon_factory().start()
    with d.connect(timeout=10) as s:
        for piece in (b"upper:a", b"b", b"c"):
            s.sendall(piece)
            time.sleep(PAUSE)
        assert bgs.recv_all(s) == b"ABC"
    assert stat(d, "requests_cut_total") == 0


def test_unix_socket_keeps_the_fixed_quiet_period(daemon_factory, tmp_path):
    # Over a UNIX socket the silence is request_idle_ms, as before: pieces
    # 300 ms apart are one request with a 2 s period.
    path = str(tmp_path / "s.sock")
    d = daemon_factory(limits={"request_idle_ms": 2000})
    d.settings["listen"].append({"path": path})
    d.write_config()
    d.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"upper:ab")
        time.sleep(0.3)
        s.sendall(b"cd")
        assert bgs.recv_all(s) == b"ABCD"
