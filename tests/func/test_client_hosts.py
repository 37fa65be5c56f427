"""bgservice with several daemons: a service's hosts list, spread and
failover, and the job verbs routed by the node their id names, without -s.

Three daemons on 127.0.0.2, 127.0.0.3 and 127.0.0.4, each with its own
node; each service answers with its node's name, so that every answer
says which daemon gave it.
"""
import re

import pytest

import bgs

NODES = {"web1": "127.0.0.2", "web2": "127.0.0.3", "web3": "127.0.0.4"}


def whoami(name):
    return {"whoami": bgs.svc("printf '%s '; exec cat" % name)}


@pytest.fixture
def three(daemon_factory):
    return {name: daemon_factory(name, address=addr, services=whoami(name),
                                 extra={"node": name}).start()
            for name, addr in NODES.items()}


def hosts_list(daemons):
    return ", ".join('"%s:%d"' % (d.address, d.port) for d in daemons.values())


def client(daemons, conf, *args):
    """bgservice -c CONF ARGS, no -H."""
    return daemons["web1"].run_client("-c", str(conf), *args, host="")


def add_jobs(daemons, conf, n):
    """N jobs through the hosts list: {id: data}."""
    jobs = {}
    for i in range(n):
        r = client(daemons, conf, "add", "whoami", "j%d" % i)
        assert r.returncode == 0, r.stderr
        jid = r.stdout.decode().strip()
        assert re.fullmatch(r"web\d____-[0-9a-f]{16}", jid), jid
        jobs[jid] = "j%d" % i
    return jobs


def check_routed(daemons, conf, jobs):
    """status, get and info of each job, without -s, from its node."""
    for jid, data in jobs.items():
        node = jid[:4]
        r = client(daemons, conf, "status", jid)
        assert r.returncode == 0 and r.stdout in (b"0\n", b"1\n", b"2\n"), (jid, r)
        r = client(daemons, conf, "get", jid)
        assert (r.returncode, r.stdout.decode()) == (0, "%s %s" % (node, data)), (jid, r)
        r = client(daemons, conf, "info", jid)
        assert r.returncode == 0 and ("id %s\n" % jid).encode() in r.stdout, (jid, r)


def test_default_hosts_spread_and_route_by_id(three, tmp_path):
    conf = tmp_path / "client.conf"
    conf.write_text("default = { hosts = [ %s ]; };\n" % hosts_list(three))
    jobs = add_jobs(three, conf, 24)
    assert {j[:4] for j in jobs} == set(NODES), "adds not spread: %s" % list(jobs)
    check_routed(three, conf, jobs)
    answered = set()
    for i in range(24):
        r = client(three, conf, "call", "whoami", "c%d" % i)
        assert r.returncode == 0 and r.stdout.endswith(b" c%d" % i), r
        answered.add(r.stdout.split()[0].decode())
    assert answered == set(NODES)


def test_service_hosts_route_job_verbs_without_s(three, tmp_path):
    """The hosts are the service's, not the default's: the job verbs,
    which name no service, still find the node among them."""
    conf = tmp_path / "client.conf"
    conf.write_text("services = { whoami = { hosts = [ %s ]; }; };\n" % hosts_list(three))
    check_routed(three, conf, add_jobs(three, conf, 12))


def test_a_stopped_host_fails_over_and_its_jobs_wait(three, tmp_path):
    conf = tmp_path / "client.conf"
    conf.write_text("default = { hosts = [ %s ]; };\n" % hosts_list(three))
    jobs = add_jobs(three, conf, 24)
    web2 = [j for j in jobs if j.startswith("web2")]
    assert web2, jobs
    # Done before web2 stops (a job running then ends interrupted).
    check_routed(three, conf, {j: jobs[j] for j in web2})
    three["web2"].stop()
    for i in range(15):
        r = client(three, conf, "call", "whoami", "f%d" % i)
        assert r.returncode == 0 and r.stdout.split()[0] in (b"web1", b"web3"), r
    r = client(three, conf, "get", web2[0])
    assert r.returncode == 111 and b"node web2" in r.stderr, r
    check_routed(three, conf, {j: d for j, d in jobs.items() if not j.startswith("web2")})
    # Back, web2 answers for its jobs from its spool.
    three["web2"].start()
    check_routed(three, conf, {j: jobs[j] for j in web2})


def test_ids_without_a_node_are_asked_of_each_host(daemon_factory, tmp_path):
    a = daemon_factory("a", address="127.0.0.2", services=whoami("a")).start()
    b = daemon_factory("b", address="127.0.0.3", services=whoami("b")).start()
    r = b.run_client("add", "whoami", "x")
    jid = r.stdout.decode().strip()
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{16}", jid), r
    conf = tmp_path / "client.conf"
    conf.write_text("default = { hosts = [ %s ]; };\n" % hosts_list({"a": a, "b": b}))
    r = a.run_client("-c", str(conf), "get", jid, host="")
    assert (r.returncode, r.stdout) == (0, b"b x"), r
    r = a.run_client("-c", str(conf), "get", "0123456789abcdef", host="")
    assert r.returncode == 2 and b"404: Unknown job id" in r.stderr, r


def test_hosts_and_tcpurl_exclude_each_other(daemon, tmp_path):
    conf = tmp_path / "client.conf"
    conf.write_text('default = { tcpurl = "127.0.0.1:1"; hosts = [ "127.0.0.1:2" ]; };\n')
    r = daemon.run_client("-c", str(conf), "ping", host="")
    assert r.returncode == 100 and b"exclude each other" in r.stderr, r
    conf.write_text('default = { hosts = [ ]; };\n')
    r = daemon.run_client("-c", str(conf), "ping", host="")
    assert r.returncode == 100 and b"'hosts' must be a list" in r.stderr, r
