"""What a run cost: queue:info reports the service's CPU time and peak RSS
(wait4's rusage), and stats counts CPU seconds per service."""
import bgs

# Burns ~200 ms of CPU and touches ~50 MiB, then says what getrusage(2)
# saw of itself: the truth the daemon's figures are held against.
BURN = r"""
import resource, time
blob = b"\x01" * (50 << 20)
t = time.process_time()
n = 0
while time.process_time() - t < 0.2:
    n += 1
ru = resource.getrusage(resource.RUSAGE_SELF)
print(int(ru.ru_utime * 1000), int(ru.ru_stime * 1000), ru.ru_maxrss,
      len(blob))
"""


def stats_cpu(d, service, mode):
    key = 'bgserviced_cpu_seconds_total{service="%s",mode="%s"}' % (service, mode)
    for line in d.request(b"stats").decode().splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    raise KeyError(key)


def test_job_info_reports_cpu_and_rss(daemon_factory):
    d = daemon_factory(services={
        "burn": {"command": ["/usr/bin/python3", "-c", BURN], "timeout": 60}}).start()
    before = stats_cpu(d, "burn", "user") + stats_cpu(d, "burn", "system")
    jid = bgs.job_add(d, "burn")
    out = bgs.job_get(d, jid).decode().split()
    user, system, rss = int(out[0]), int(out[1]), int(out[2])
    assert rss >= 50 << 10, out
    info = bgs.job_info(d, jid)
    cpu, got_rss = int(info["cpu_user_ms"]) + int(info["cpu_sys_ms"]), \
        int(info["max_rss_kib"])
    # The service's own view is taken a moment before it exits.
    assert 0.8 * (user + system) <= cpu <= 1.2 * (user + system) + 20, (info, out)
    assert cpu >= 180, info
    assert 0.8 * rss <= got_rss <= 1.2 * rss, (info, out)
    after = stats_cpu(d, "burn", "user") + stats_cpu(d, "burn", "system")
    assert abs((after - before) * 1000 - cpu) <= 2, (before, after, info)


def test_call_cpu_counted_and_a_small_job_reports_small_figures(daemon_factory):
    d = daemon_factory(services={
        "burn": {"command": ["/usr/bin/python3", "-c", BURN], "timeout": 60},
        "cat": {"command": ["/bin/cat"]}}).start()
    out = d.call("burn").decode().split()
    assert stats_cpu(d, "burn", "user") * 1000 >= 0.8 * int(out[0])
    # A job that did not burn anything reports small figures, not garbage.
    jid = bgs.job_add(d, "cat", b"x")
    assert bgs.job_get(d, jid) == b"x"
    info = bgs.job_info(d, jid)
    assert 0 <= int(info["cpu_user_ms"]) + int(info["cpu_sys_ms"]) < 150, info
    assert 0 < int(info["max_rss_kib"]) < 50 << 10, info
