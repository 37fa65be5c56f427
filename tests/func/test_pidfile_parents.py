"""The pidfile's folder is trusted only when every folder above it is
too: another user who may rename an entry above could swap the folder
for his own between the daemon's checks and pidfile_open(3), which
follows links, and have root create a file wherever his link points.

Run as root (the attack is against root); not root, the test is skipped
with the reason printed.
"""
import os
import pwd
import socket
import subprocess
import time

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the attack is on a daemon started as root")

# Swap two folders as fast as it can, for SECONDS (renameat2 EXCHANGE).
SWAPPER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, end = sys.argv[1].encode(), sys.argv[2].encode(), time.time() + float(sys.argv[3])
while time.time() < end:
    for _ in range(1000):
        libc.syscall(316, -100, a, -100, b, 2)
"""


@needs_root
def test_a_folder_above_the_pidfiles_of_another_user_is_refused(daemon_factory, tmp_path):
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "home"          # another user's folder ...
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    run = home / "run"                # ... holding one of root's
    run.mkdir(mode=0o755)
    evil = home / "evil"              # and one of his own, with a link
    evil.mkdir()
    target = tmp_path / "created-by-root"
    os.symlink(target, evil / "b.pid")
    os.lchown(evil / "b.pid", nobody.pw_uid, nobody.pw_gid)
    os.chown(evil, nobody.pw_uid, nobody.pw_gid)
    # Its port is taken: a start that gets past the pidfile stops there.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    d = daemon_factory(listen=[{"address": "127.0.0.1", "port": busy.getsockname()[1],
                                "udp": False}])
    pidfile = str(run / "b.pid")
    d.settings["pidfile"] = pidfile
    d.write_config()
    # The folder above belongs to nobody: refused before anything opens.
    r = subprocess.run([d.bin, "-f", "-c", d.conf], capture_output=True,
                       text=True, timeout=30, env=d.env())
    assert r.returncode == 1, r
    assert "pidfile %s: %s above it belongs to another user: not started" % (
        pidfile, home) in r.stderr, r.stderr
    assert os.listdir(run) == []
    # Before, the checks passed and a user swapping run and evil had root
    # create TARGET through his link (at the first start, often).
    # (The swapper runs as root: the base folder of the tests is root's
    # alone, and who swaps makes no difference to the daemon.)
    sw = subprocess.Popen(["/usr/bin/python3", "-c", SWAPPER, str(run), str(evil), "6"])
    try:
        end = time.monotonic() + 5
        for _ in range(100):
            if time.monotonic() > end:
                break
            r = subprocess.run([d.bin, "-f", "-c", d.conf], capture_output=True,
                               text=True, timeout=30, env=d.env())
            assert r.returncode == 1, r
            assert not os.path.lexists(target), "root created %s: %s" % (target, r.stderr)
    finally:
        sw.kill()
        sw.wait(timeout=10)
        busy.close()
