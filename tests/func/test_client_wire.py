"""bgservice against the daemon's limits: what a caller sees when the
daemon stops reading its request."""


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

