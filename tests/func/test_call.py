"""The original protocol over TCP: verbs, framing rules, errors."""
import socket
import subprocess
import time

import bgs


def test_call_with_eof(daemon):
    assert daemon.request(b"upper:hello") == b"HELLO"


def test_call_without_colon_has_empty_data(daemon_factory):
    d = daemon_factory(services={"wc": {"command": ["/usr/bin/wc", "-c"]}}).start()
    assert d.request(b"wc").strip() == b"0"


def test_helo_hello(daemon):
    assert daemon.request(b"helo") == b"oleh"
    assert daemon.request(b"hello") == b"olleh"
    assert daemon.request(b"helo\n") == b"oleh"


def test_helo_answered_without_eof_or_quiet_period(daemon_factory):
    # With a long quiet period, only the grammar can end the request.
    d = daemon_factory(limits={"request_idle_ms": 20000, "request_timeout": 30}).start()
    with d.connect(timeout=5) as s:
        s.sendall(b"helo")
        assert bgs.recv_all(s) == b"oleh"


def test_php_style_caller_never_shuts_down(daemon_factory):
    # The PHP caller writes and reads to EOF without shutting down its
    # side: the quiet period must end the request long before the
    # request timeout (30 s here; the socket gives up after 5 s).
    d = daemon_factory(limits={"request_timeout": 30, "request_idle_ms": 50}).start()
    with d.connect(timeout=5) as s:
        s.sendall(b"upper:from php")
        assert bgs.recv_all(s) == b"FROM PHP"


def test_php_caller_real(daemon):
    php = ("$f = fsockopen('127.0.0.1', %d, $errno, $errstr, 5);"
           "stream_set_timeout($f, 5);"
           "fwrite($f, 'upper:php here'); $r = '';"
           "while (!feof($f)) { $r .= fread($f, 8192); } fclose($f); echo $r;" % daemon.port)
    r = subprocess.run(["php", "-r", php], capture_output=True, timeout=30)
    assert r.stdout == b"PHP HERE", r


def test_quiet_period_joins_segments(daemon_factory):
    # Pieces that arrive within a fixed quiet period are one request.
    d = daemon_factory(limits={"request_idle_ms": 1500,
                               "request_idle_fixed": True}).start()
    with d.connect() as s:
        s.sendall(b"upper:abc")
        time.sleep(0.2)
        s.sendall(b"def")
        assert bgs.recv_all(s) == b"ABCDEF"


def test_nc_with_and_without_n(daemon):
    r = subprocess.run(["nc", "-N", "127.0.0.1", str(daemon.port)], input=b"upper:nc",
                       capture_output=True, timeout=20)
    assert r.stdout == b"NC"
    # Without -N nc never shuts down: the quiet period ends the request.
    r = subprocess.run(["nc", "127.0.0.1", str(daemon.port)], input=b"upper:plain nc",
                       capture_output=True, timeout=20)
    assert r.stdout == b"PLAIN NC"
    # A person typing: the line end is part of the request, and trimmed.
    r = subprocess.run(["nc", "127.0.0.1", str(daemon.port)], input=b"upper:typed\n",
                       capture_output=True, timeout=20)
    assert r.stdout == b"TYPED"


def test_trim_whole_request(daemon):
    assert daemon.request(b"  \r\n upper: keep inner  \n\t") == b" KEEP INNER"


def test_unknown_service(daemon):
    assert daemon.request(b"nosuch:x") == b"400: Unknown request\n"
    assert daemon.request(b"nosuch") == b"400: Unknown request\n"


def test_bad_names_are_unknown_requests(daemon):
    for req in (b"up per:x", b"../../bin/sh:x", b"\x00\xff\x01", b":data", b"up.per:x"):
        assert daemon.request(req) == b"400: Unknown request\n", req


def test_empty_connection_is_dropped_quietly(daemon):
    with daemon.connect() as s:
        s.shutdown(socket.SHUT_WR)
        assert bgs.recv_all(s) == b""
    assert daemon.request(b"upper:after") == b"AFTER"


def test_request_timeout_408(daemon_factory):
    d = daemon_factory(limits={"request_timeout": 1}).start()
    with d.connect(timeout=10) as s:
        # Nothing at all: the whole-request timeout answers.
        assert bgs.recv_all(s) == b"408: Request timeout\n"


def test_trickling_request_408(daemon_factory):
    # Bytes keep coming, each inside the quiet period, past the timeout.
    d = daemon_factory(limits={"request_timeout": 1, "request_idle_ms": 400,
                               "request_idle_fixed": True}).start()
    with d.connect(timeout=10) as s:
        s.sendall(b"upper:")
        got = b""
        for _ in range(40):
            try:
                s.sendall(b"x")
            except OSError:
                break
            s.settimeout(0.1)
            try:
                got = s.recv(100)
                if got:
                    break
            except socket.timeout:
                pass
        s.settimeout(10)
        got += bgs.recv_all(s)
    assert got == b"408: Request timeout\n"


def test_request_too_large_413(daemon_factory):
    d = daemon_factory(limits={"max_request": 1000}).start()
    assert d.request(b"echo:" + b"x" * 5000) == b"413: Request too large\n"
    # Exactly at the limit is fine.
    assert d.request(b"echo:" + b"y" * 995) == b"y" * 995


def test_413_without_shutdown(daemon_factory):
    d = daemon_factory(limits={"max_request": 1000}).start()
    with d.connect() as s:
        s.sendall(b"echo:" + b"x" * 200000)
        assert bgs.recv_all(s) == b"413: Request too large\n"


def test_200kb_payload(daemon):
    data = bytes(range(256)) * 800
    assert daemon.request(b"echo:" + data) == data


def test_200kb_payload_php_style(daemon):
    data = b"abc" * 70000
    with daemon.connect() as s:
        s.sendall(b"echo:" + data)
        assert bgs.recv_all(s) == data


def test_log_line_per_request(daemon):
    daemon.request(b"upper:x")
    assert daemon.wait_log("call upper: ok, 1 bytes")
    assert "tcp 127.0.0.1:" in daemon.log()
