"""bgservice, the client: subcommands, data sources, exit statuses."""


def test_call_argument_and_stdin(daemon):
    r = daemon.run_client("call", "upper", "from arg")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"FROM ARG", b"")
    r = daemon.run_client("call", "upper", input=b"from stdin")
    assert (r.returncode, r.stdout) == (0, b"FROM STDIN")


def test_call_binary_round_trip(daemon):
    data = bytes(range(256)) * 1000
    r = daemon.run_client("call", "echo", input=data)
    assert r.returncode == 0 and r.stdout == data


def test_output_that_looks_like_an_error_is_still_output(daemon_factory):
    d = daemon_factory(services={"liar": {"command": ["/bin/echo", "500: not an error"]}}).start()
    r = d.run_client("call", "liar")
    assert (r.returncode, r.stdout) == (0, b"500: not an error\n")


def test_ping(daemon):
    r = daemon.run_client("ping")
    assert r.returncode == 0
    assert b"is alive" in r.stdout


def test_service_failure_exit_1(daemon_factory):
    d = daemon_factory(services={"fail": {"command": ["/bin/sh", "-c", "exit 4"]}}).start()
    r = d.run_client("call", "fail", "x")
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"502: Service fail failed with exit status 4" in r.stderr


def test_unknown_service_exit_2(daemon):
    r = daemon.run_client("call", "nosuch", "x")
    assert r.returncode == 2
    assert b"400: Unknown request" in r.stderr


def test_cannot_connect_exit_111(daemon_factory):
    d = daemon_factory()           # configured, never started
    r = d.run_client("call", "upper", "x")
    assert r.returncode == 111
    assert b"Connection refused" in r.stderr


def test_timeout_exit_111(daemon_factory):
    d = daemon_factory(services={"slow": {"command": ["/bin/sleep", "5"]}}).start()
    r = d.run_client("-t", "1", "call", "slow", "x")
    assert r.returncode == 111
    assert b"timed out after 1 s" in r.stderr


def test_usage_exit_100(daemon):
    for args in ([], ["frobnicate"], ["call"], ["call", "a", "b", "c"], ["-t", "0", "ping"]):
        r = daemon.run_client(*args)
        assert r.returncode == 100, args
        assert b"usage: bgservice" in r.stderr or b"-t 0" in r.stderr


def test_host_from_environment(daemon):
    r = daemon.run_client("call", "upper", "env host", host="",
                          env={"BGSERVICE_HOST": "127.0.0.1:%d" % daemon.port})
    assert (r.returncode, r.stdout) == (0, b"ENV HOST"), r.stderr


def test_bad_host_spec(daemon):
    r = daemon.run_client("ping", host="nocolon")
    assert r.returncode == 100
