"""bgservice, the client: subcommands, data sources, exit statuses."""
import os
import subprocess

import bgs


def client(d, *args, input=None, host=None, timeout=30):
    h = host or "127.0.0.1:%d" % d.port
    return subprocess.run([d.client, "-H", h] + list(args), input=input,
                          capture_output=True, timeout=timeout, env=d.env())


def test_call_argument_and_stdin(daemon):
    r = client(daemon, "call", "upper", "from arg")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"FROM ARG", b"")
    r = client(daemon, "call", "upper", input=b"from stdin")
    assert (r.returncode, r.stdout) == (0, b"FROM STDIN")


def test_call_binary_round_trip(daemon):
    data = bytes(range(256)) * 1000
    r = client(daemon, "call", "echo", input=data)
    assert r.returncode == 0 and r.stdout == data


def test_output_that_looks_like_an_error_is_still_output(daemon_factory):
    d = daemon_factory(services={"liar": {"command": ["/bin/echo", "500: not an error"]}}).start()
    r = client(d, "call", "liar")
    assert (r.returncode, r.stdout) == (0, b"500: not an error\n")


def test_ping(daemon):
    r = client(daemon, "ping")
    assert r.returncode == 0
    assert b"is alive" in r.stdout


def test_service_failure_exit_1(daemon_factory):
    d = daemon_factory(services={"fail": {"command": ["/bin/sh", "-c", "exit 4"]}}).start()
    r = client(d, "call", "fail", "x")
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"502: Service fail failed with exit status 4" in r.stderr


def test_unknown_service_exit_2(daemon):
    r = client(daemon, "call", "nosuch", "x")
    assert r.returncode == 2
    assert b"400: Unknown request" in r.stderr


def test_cannot_connect_exit_111(daemon_factory):
    d = daemon_factory()           # configured, never started
    r = client(d, "call", "upper", "x")
    assert r.returncode == 111
    assert b"Connection refused" in r.stderr


def test_timeout_exit_111(daemon_factory):
    d = daemon_factory(services={"slow": {"command": ["/bin/sleep", "5"]}}).start()
    r = client(d, "-t", "1", "call", "slow", "x")
    assert r.returncode == 111
    assert b"timed out after 1 s" in r.stderr


def test_usage_exit_100(daemon):
    for args in ([], ["frobnicate"], ["call"], ["call", "a", "b", "c"], ["-t", "0", "ping"]):
        r = client(daemon, *args)
        assert r.returncode == 100, args
        assert b"usage: bgservice" in r.stderr or b"-t 0" in r.stderr


def test_host_from_environment(daemon):
    r = subprocess.run([daemon.client, "call", "upper", "env host"], capture_output=True,
                       timeout=30, env=dict(daemon.env(), BGSERVICE_HOST="127.0.0.1:%d" % daemon.port))
    assert (r.returncode, r.stdout) == (0, b"ENV HOST")


def test_bad_host_spec(daemon):
    r = client(daemon, "ping", host="nocolon")
    assert r.returncode == 100
