"""Start-up: options, configuration check, detaching, pidfile, signals."""
import os
import signal
import subprocess
import time

import bgs


def run(daemon, *args, timeout=30):
    return subprocess.run([daemon.bin] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=daemon.env(), stdin=subprocess.DEVNULL)


def test_check_good_config(daemon_factory):
    d = daemon_factory()
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr
    assert not os.path.exists(d.pidfile)


def test_check_bad_config_says_file_and_line(daemon_factory):
    d = daemon_factory()
    d.write_config('listen = ( { address = "127.0.0.1"; port = %d; } );\n'
                   'services = {\n  a = { command = [ "/bin/cat" ]; };\n'
                   '  b = { command = [ "/bin/cat" ]; tiemout = 3; };\n};\n' % d.port)
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 1
    assert "%s:4: unknown key 'tiemout' in a service" % d.conf in r.stderr


def test_check_large_integer_needs_l(daemon_factory):
    """libconfig cuts a literal above 2**31-1 without L to its low 32
    bits: 2**46 + 1 would be read as 1.  Refused, and taken with an L."""
    d = daemon_factory()
    body = ('listen = ( { address = "127.0.0.1"; port = %d; } );\n'
            'services = {\n  a = { command = [ "/bin/cat" ]; user = "nobody";\n'
            '    rlimit_fsize = %s; };\n};\n')
    d.write_config(body % (d.port, "70368744177665"))
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 1, r.stderr
    assert "%s:4: 'rlimit_fsize' is above 2147483647: write it with an L" % d.conf \
        in r.stderr
    d.write_config(body % (d.port, "70368744177663L"))
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 0, r.stderr
    d.write_config(body % (d.port, "2147483647"))
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 0, r.stderr


def test_check_syntax_error(daemon_factory):
    d = daemon_factory()
    d.write_config('listen = ( { address = "127.0.0.1"; port = 1; } )\nservices = { x = ; };\n')
    r = run(d, "-t", "-c", d.conf)
    assert r.returncode == 1
    assert "%s:2: syntax error" % d.conf in r.stderr


def test_bad_config_refuses_to_start(daemon_factory):
    d = daemon_factory()
    d.write_config('listen = ( { address = "127.0.0.1"; port = %d; } );\n'
                   'services = { a = { command = [ "/no/such/program" ]; }; };\n' % d.port)
    r = run(d, "-f", "-c", d.conf)
    assert r.returncode == 1
    assert "/no/such/program" in r.stderr and "No such file" in r.stderr


def test_missing_config_file(daemon_factory):
    d = daemon_factory()
    r = run(d, "-t", "-c", d.conf + ".missing")
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr


def test_usage_and_version(daemon_factory):
    d = daemon_factory()
    r = run(d, "-h")
    assert r.returncode == 1 and "usage: bgserviced" in r.stderr
    r = run(d, "-x")
    assert r.returncode == 1 and "usage: bgserviced" in r.stderr
    r = run(d, "-V")
    assert r.returncode == 0 and r.stdout.startswith("bgserviced ")


def test_port_in_use_refuses_to_start(daemon_factory):
    a = daemon_factory("a").start()
    b = daemon_factory("b")
    b.settings["listen"] = [{"address": "127.0.0.1", "port": a.port}]
    b.write_config()
    r = run(b, "-f", "-c", b.conf)
    assert r.returncode == 1
    assert "cannot listen on 127.0.0.1 port %d" % a.port in r.stderr
    assert "Address already in use" in r.stderr
    assert not os.path.exists(b.pidfile)


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); ppid 4, pgrp 5, session 6, tty_nr 7
    return {"state": fields[0], "ppid": int(fields[1]), "pgrp": int(fields[2]),
            "session": int(fields[3]), "tty_nr": int(fields[4])}


def test_detached_mode(daemon_factory):
    d = daemon_factory()
    d.start(foreground=False)
    pid = d.pid
    assert pid > 0 and bgs.pid_alive(pid)
    st = proc_stat(pid)
    assert st["tty_nr"] == 0, "has a controlling terminal"
    assert st["session"] != pid, "is a session leader"
    assert os.readlink("/proc/%d/cwd" % pid) == "/"
    for fd in (0, 1, 2):
        assert os.readlink("/proc/%d/fd/%d" % (pid, fd)) == "/dev/null"
    # Nothing inherited: only the standard descriptors, the pidfile, the
    # spool, its lock and the queue's FIFO, the log file, the listening
    # sockets and the two ends of one pipe (connection processes say on
    # it that they have answered: server.c).
    fds = os.listdir("/proc/%d/fd" % pid)
    targets = [os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in fds]
    allowed = ("/dev/null", d.pidfile, d.spool, os.path.join(d.spool, "lock"),
               os.path.join(d.spool, "notify"), d.logfile)
    pipes = [t for t in targets if t.startswith("pipe:")]
    assert len(pipes) == 2 and len(set(pipes)) == 1, targets
    assert all(t in allowed or t.startswith(("socket:", "pipe:"))
               for t in targets), targets
    assert targets.count(os.path.join(d.spool, "notify")) == 1, targets
    assert d.call("upper", b"detached") == b"DETACHED"
    d.stop()
    assert not os.path.exists(d.pidfile)


def test_second_instance_refused(daemon_factory):
    d = daemon_factory().start()
    r = run(d, "-f", "-c", d.conf)
    assert r.returncode == 1
    assert "already running as pid %d" % d.pid in r.stderr
    assert int(open(d.pidfile).read()) == d.pid
    assert d.call("upper", b"still") == b"STILL"


def test_second_instance_refused_detached(daemon_factory):
    d = daemon_factory()
    d.start(foreground=False)
    r = run(d, "-c", d.conf)
    assert r.returncode == 1
    assert "already running as pid %d" % d.pid in r.stderr


def test_sigterm_removes_pidfile(daemon_factory):
    d = daemon_factory().start()
    assert int(open(d.pidfile).read()) == d.pid
    d.stop()
    assert not os.path.exists(d.pidfile)
    assert "stopped" in d.log()


def test_sigint_in_foreground(daemon_factory):
    d = daemon_factory().start()
    d.signal(signal.SIGINT)
    assert d.proc.wait(timeout=20) == 0
    d.pid = None
    assert not os.path.exists(d.pidfile)


def test_sigterm_during_call_stops_children(daemon_factory, tmp_path):
    pidf = tmp_path / "svc.pid"
    d = daemon_factory(services={
        "hang": {"command": ["/bin/sh", "-c", "echo $$ > %s; exec sleep 60" % pidf],
                 "timeout": 0}}).start()
    s = d.connect()
    s.sendall(b"hang:x")
    s.shutdown(1)
    assert bgs.wait_until(lambda: pidf.exists() and pidf.read_text().strip(), 10)
    svc = int(pidf.read_text())
    assert bgs.pid_alive(svc)
    d.stop()
    assert not bgs.pid_alive(svc), "service survived the daemon's SIGTERM"
    answer = bgs.recv_all(s)
    s.close()
    assert answer == b"" or answer.startswith(b"503:")


def test_sighup_reload_adds_service(daemon_factory):
    d = daemon_factory().start()
    assert d.call("lower", b"ABC").startswith(b"400: Unknown request")
    d.settings["services"]["lower"] = {"command": ["/usr/bin/tr", "A-Z", "a-z"]}
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: d.call("lower", b"ABC") == b"abc", 10), d.log()


def test_sighup_bad_config_keeps_old(daemon_factory):
    d = daemon_factory().start()
    d.write_config("services = { broken\n")
    d.signal(signal.SIGHUP)
    assert d.wait_log("reload failed, configuration unchanged"), d.log()
    assert "%s:" % d.conf in d.log()
    assert d.call("upper", b"ok") == b"OK"
    time.sleep(0.1)
    assert bgs.pid_alive(d.pid)
