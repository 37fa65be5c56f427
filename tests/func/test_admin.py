"""What an administrator meets: UNIX sockets given to a group, and -t
checking the listen entries."""
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

import bgs


def helo_as(path, uid, gid):
    """helo over the UNIX socket PATH from a process running as UID:GID."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.settimeout(10)\n"
            "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n print('EACCES'); sys.exit()\n"
            "s.sendall(b'helo'); print(s.recv(10).decode())\n")

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    r = subprocess.run(["/usr/bin/python3", "-c", code, path], capture_output=True,
                       text=True, timeout=30, preexec_fn=drop)
    return r.stdout.strip() or r.stderr


@pytest.fixture
def open_dir():
    """A folder every user can reach (pytest's own are 0700)."""
    path = tempfile.mkdtemp(prefix="bgs-sock-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def test_unix_socket_owner_and_group(daemon_factory, open_dir):
    path = os.path.join(open_dir, "g.sock")
    nogroup = grp.getgrnam("nogroup").gr_gid
    daemon_uid = pwd.getpwnam("daemon").pw_uid
    d = daemon_factory()
    d.settings["listen"].append({"path": path, "mode": "0660", "owner": "nobody",
                                 "group": "nogroup", "allow_gid": ["nogroup"]})
    d.write_config()
    d.start()
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == \
        (pwd.getpwnam("nobody").pw_uid, nogroup, 0o660)
    # A caller of the group gets in; one of another group is kept out.
    assert helo_as(path, daemon_uid, nogroup) == "oleh"
    assert helo_as(path, daemon_uid, grp.getgrnam("daemon").gr_gid) == "EACCES"
    # A reload applies a new group to the socket it keeps.
    d.settings["listen"][1]["group"] = "daemon"
    d.settings["listen"][1]["allow_gid"] = ["daemon"]
    d.write_config()
    d.signal(signal.SIGHUP)
    assert bgs.wait_until(lambda: os.stat(path).st_gid == grp.getgrnam("daemon").gr_gid), d.log()
    assert helo_as(path, daemon_uid, grp.getgrnam("daemon").gr_gid) == "oleh"


def test_owner_refused_on_ip_entry(daemon_factory):
    d = daemon_factory()
    d.settings["listen"][0]["group"] = "nogroup"
    d.write_config()
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "'owner' and 'group' apply to UNIX sockets only" in r.stderr


def test_t_refuses_duplicate_listen_entries(daemon_factory):
    d = daemon_factory()
    d.settings["listen"].append(dict(d.settings["listen"][0]))
    d.write_config()
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "this listen entry repeats the one at line" in r.stderr


def test_t_warns_about_sockets_in_use(daemon_factory, tmp_path):
    d = daemon_factory()
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", d.port))
        s.listen()
        r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                           timeout=30)
    assert r.returncode == 0, r.stderr
    assert "warning: %s:" % d.conf in r.stderr
    assert "127.0.0.1:%d/tcp: Address already in use" % d.port in r.stderr
    assert "configuration OK" in r.stderr
    # A datagram socket bound to the port, as a running daemon's is.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind(("127.0.0.1", d.port))
        r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True,
                           timeout=30)
    assert r.returncode == 0, r.stderr
    assert "127.0.0.1:%d/udp: Address already in use" % d.port in r.stderr
    # And the running daemon itself.
    d.start()
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert "127.0.0.1:%d/tcp: Address already in use" % d.port in r.stderr


def test_P_prints_where_the_state_lives(daemon_factory):
    d = daemon_factory()
    r = subprocess.run([d.bin, "-P", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pidfile %s\nspool_dir %s\n" % (d.pidfile, d.spool)
    # With no spool_dir, the one beside the pidfile.
    del d.settings["spool_dir"]
    d.write_config()
    r = subprocess.run([d.bin, "-P", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines()[1] == "spool_dir " + d.pidfile[:-4] + ".spool"


def test_spool_on_tmpfs_is_warned_about(daemon_factory):
    shm = tempfile.mkdtemp(prefix="bgs-spool-", dir="/dev/shm")
    try:
        d = daemon_factory(extra={"spool_dir": os.path.join(shm, "spool")}).start()
        assert ("warning: spool %s/spool is on a tmpfs: queued jobs are lost at reboot"
                % shm) in d.log()
        d.stop()
    finally:
        shutil.rmtree(shm)
    d = daemon_factory("d2").start()
    assert "is on a tmpfs" not in d.log()


def test_shipped_configuration_keeps_jobs_on_disk():
    conf = os.path.join(bgs.REPO, "etc", "bgserviced.conf")
    assert 'spool_dir = "/var/spool/bgserviced";' in open(conf).read()
