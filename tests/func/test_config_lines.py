"""Settings written several to a line are each read as written: the
check for integers that libconfig cut to 32 bits (an L missing) must
not take one setting's literal for another's."""
import socket
import subprocess

import bgs


def check(d):
    return subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True,
                          text=True, timeout=30, env=d.env())


def test_two_listen_entries_on_one_line(daemon_factory):
    # 'port' was looked up as the first "port" of the line: the second
    # entry's port (not the first's) was taken for a cut literal and a
    # good file refused: "'port' is above 2147483647: write it with an L".
    d = daemon_factory()
    other = bgs.free_port()
    d.write_config('pidfile = "%s";\nspool_dir = "%s";\nlog = "%s";\n'
                   'listen = ( { address = "127.0.0.1"; port = %d; }, '
                   '{ address = "127.0.0.1"; port = %d; udp = false; } );\n'
                   'services = { upper = { command = [ "/usr/bin/tr", "a-z", "A-Z" ]; '
                   'user = "%s"; spool_writable = true; }; };\n'
                   % (d.pidfile, d.spool, d.logfile, d.port, other, bgs.ME))
    r = check(d)
    assert r.returncode == 0, r.stderr
    d.start()
    for port in (d.port, other):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"upper:x")
            s.shutdown(socket.SHUT_WR)
            assert bgs.recv_all(s) == b"X"


def test_a_name_that_ends_another_is_not_taken_for_it(daemon_factory):
    # 'rate' was found at the end of 'source_rate' on the same line.
    d = daemon_factory(services={"a": {"command": ["/bin/cat"]}})
    d.write_config()
    text = open(d.conf).read().replace(
        'command = [ "/bin/cat" ];',
        'command = [ "/bin/cat" ]; source_rate = 10; rate = 5; source_burst = 3; burst = 7;')
    d.write_config(text)
    assert "source_rate = 10; rate = 5;" in open(d.conf).read()
    r = check(d)
    assert r.returncode == 0, r.stderr


def test_a_cut_literal_beside_another_is_still_refused(daemon_factory):
    d = daemon_factory()
    d.write_config('listen = ( { address = "127.0.0.1"; port = %d; }, '
                   '{ address = "127.0.0.1"; port = %d; udp = false; } );\n'
                   % (d.port, d.port + 2**32))
    r = check(d)
    assert r.returncode == 1
    assert "%s:1: 'port' is above 2147483647: write it with an L" % d.conf in r.stderr
