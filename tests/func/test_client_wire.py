"""bgservice against the daemon's limits and its own arguments: what a
caller sees when the daemon stops reading, and addresses that must not
reach another port than the one written."""
import socket

import pytest

import bgs


def test_payload_over_max_request_is_refused_413_not_a_broken_pipe(daemon_factory):
    # The daemon answers 413 from the framed header, reads and drops what
    # follows for a second (4 MiB at most), then closes: a client still
    # sending a larger payload got EPIPE and exited 111 ("write: Broken
    # pipe"), a temporary failure to try again, instead of the 413 the
    # daemon had answered (exit 2).
    d = daemon_factory(limits={"max_request": 1000}).start()
    r = d.run_client("call", "upper", input=b"a" * (48 << 20))
    assert (r.returncode, r.stdout) == (2, b""), r.stderr
    assert r.stderr == b"bgservice: 413: Request too large\n"
    # Under the limit, nothing changes.
    r = d.run_client("call", "upper", input=b"a" * 900)
    assert (r.returncode, r.stdout) == (0, b"A" * 900)


def test_a_port_beyond_65535_is_a_usage_error(daemon_factory):
    # getaddrinfo(3) takes a numeric port modulo 65536: -H with the
    # daemon's port plus 65536 reached the daemon and exited 0.
    d = daemon_factory().start()
    for port in (str(d.port + 65536), "0", "+%d" % d.port, " %d" % d.port,
                 "echo", ""):
        r = d.run_client("call", "upper", "x", host="127.0.0.1:%s" % port)
        assert (r.returncode, r.stdout) == (100, b""), (port, r)
        assert b"port 1 to 65535" in r.stderr, (port, r.stderr)
    r = d.run_client("call", "upper", "x", host=":%d" % d.port)
    assert r.returncode == 100, r
    r = d.run_client("call", "upper", "x",
                     env={"BGSERVICE_HOST": "127.0.0.1:%d" % (d.port + 65536)},
                     host="")
    assert (r.returncode, r.stdout) == (100, b""), r
    # The forms that name the daemon still reach it.
    for host in ("127.0.0.1:%d" % d.port, "[127.0.0.1]:%d" % d.port,
                 "localhost:%d" % d.port, "tcp://127.0.0.1:%d" % d.port):
        r = d.run_client("call", "upper", "x", host=host)
        assert (r.returncode, r.stdout) == (0, b"X"), (host, r)


def test_client_config_port_beyond_65535_is_a_usage_error(daemon_factory, tmp_path):
    d = daemon_factory().start()
    conf = tmp_path / "client.conf"
    conf.write_text('default = { tcpurl = "tcp://127.0.0.1:%d"; };\n' % (d.port + 65536))
    r = d.run_client("-c", str(conf), "call", "upper", "x", host="")
    assert (r.returncode, r.stdout) == (100, b""), r


def test_a_service_name_or_token_cannot_add_a_request(daemon_factory, tmp_path):
    # bgservice wrote its SERVICE argument (and -K's token) into the framed
    # header as it was: a newline in it ended the header and began a
    # second request on the same connection, which the daemon ran.  A
    # script doing 'bgservice call "$name" "$data"' with a name from
    # elsewhere ran another service than the one named, and exited 0.
    mark = tmp_path / "mark"
    d = daemon_factory(services={
        "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
        "mark": bgs.svc("cat > %s" % mark),
    }).start()
    for args in (["call", "upper 0\n!call mark", "hi"],
                 ["add", "upper 0\n!call mark", "hi"],
                 ["-K", "t 0\n!call mark", "call", "upper", "hi"],
                 ["-K", "t\n!call mark 2\nhi", "call", "upper"]):
        r = d.run_client(*args, input=b"")
        assert r.returncode in (2, 100) and r.stdout == b"", (args, r)
    d.request(b"helo")          # every connection above has been served
    assert not mark.exists(), mark.read_bytes()
    # A token with a newline could not have been presented anyway.
    r = d.run_client("call", "upper", "hi")
    assert (r.returncode, r.stdout) == (0, b"HI")


def test_a_word_that_is_not_one_is_a_usage_error_with_no_daemon(daemon_factory):
    # Found before any host is tried: with nothing listening, exit 100
    # (the request can never be written), not 111 (try again later).
    d = daemon_factory()            # never started: its port is free
    for args in (["call", "up per", "x"], ["add", "upper\n", "x"],
                 ["-K", "t\r", "call", "upper", "x"],
                 ["add", "-k", "a key", "upper", "x"]):
        r = d.run_client(*args, input=b"")
        assert r.returncode == 100 and r.stdout == b"", (args, r)
    r = d.run_client("call", "upper", "x", input=b"")
    assert r.returncode == 111, r


def closing_server():
    """A loopback TCP server that accepts every connection and closes it
    at once (a host that is not a bgserviced, or one dying); its port and
    socket.  Its thread ends when the socket is closed."""
    import threading
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1], ls


@pytest.mark.parametrize("node", ["web2", None])
def test_a_broken_host_does_not_hide_the_jobs_host(daemon_factory, tmp_path, node):
    # With hosts = [ broken, web1, web2 ], 'bgservice get ID' of a job of
    # web2 asked the broken host first, which closed the connection, and
    # exited 111 ("read: Connection reset by peer") although web2 was up
    # and holds the job: bgservice(1) exits 111 only when the job's host
    # is down.  The same for an id without a node, asked of each host in
    # turn "until one answers other than 404".
    extra = (lambda n: {"node": n}) if node else (lambda n: {})
    d1 = daemon_factory("d1", extra=extra("web1")).start()
    d2 = daemon_factory("d2", extra=extra("web2")).start()
    port, ls = closing_server()
    try:
        jid = bgs.job_add(d2, "upper", b"hello")
        assert bgs.job_wait_state(d2, jid, b"2")
        conf = tmp_path / "client.conf"
        conf.write_text('default = { hosts = [ "127.0.0.1:%d", "127.0.0.1:%d", "127.0.0.1:%d" ]; };\n'
                        % (port, d1.port, d2.port))
        r = d1.run_client("-c", str(conf), "-t", "20", "get", jid, host="")
        assert (r.returncode, r.stdout) == (0, b"HELLO"), r
    finally:
        ls.close()
