"""make install / uninstall into a temp folder."""
import os
import subprocess

import bgs


def make(*args):
    return subprocess.run(["make", "-s", "-C", bgs.REPO] + list(args),
                          capture_output=True, text=True, timeout=300)


def test_install_under_prefix_and_uninstall(tmp_path):
    prefix = str(tmp_path / "opt")
    r = make("install", "PREFIX=" + prefix)
    assert r.returncode == 0, r.stderr
    for f in ("sbin/bgserviced", "bin/bgservice", "share/man/man1/bgservice.1",
              "share/man/man5/bgserviced.conf.5", "share/man/man8/bgserviced.8",
              "etc/bgserviced.conf", "etc/bgservice.conf", "etc/init.d/bgserviced",
              "etc/default/bgserviced", "lib/systemd/system/bgserviced.service"):
        assert os.path.exists(os.path.join(prefix, f)), f
    assert os.access(os.path.join(prefix, "sbin/bgserviced"), os.X_OK)
    init = open(os.path.join(prefix, "etc/init.d/bgserviced")).read()
    assert '"${DAEMON:=%s/sbin/bgserviced}"' % prefix in init
    # An existing configuration is never overwritten.
    conf = os.path.join(prefix, "etc/bgserviced.conf")
    with open(conf, "w") as f:
        f.write("# mine\n")
    assert make("install", "PREFIX=" + prefix).returncode == 0
    assert open(conf).read() == "# mine\n"
    r = make("uninstall", "PREFIX=" + prefix)
    assert r.returncode == 0
    assert not os.path.exists(os.path.join(prefix, "sbin/bgserviced"))
    assert not os.path.exists(os.path.join(prefix, "share/man/man8/bgserviced.8"))
    assert os.path.exists(conf)


def test_install_destdir_system_paths(tmp_path):
    dest = str(tmp_path / "root")
    r = make("install", "DESTDIR=" + dest, "PREFIX=/usr")
    assert r.returncode == 0, r.stderr
    for f in ("usr/sbin/bgserviced", "usr/bin/bgservice", "etc/bgserviced.conf",
              "etc/init.d/bgserviced", "usr/share/man/man8/bgserviced.8"):
        assert os.path.exists(os.path.join(dest, f)), f


def test_install_rebuilds_for_its_paths(tmp_path):
    """make install PREFIX=... after a plain make installs a daemon and a
    client built for that prefix: their default files are under it."""
    assert make("all").returncode == 0
    prefix = str(tmp_path / "opt")
    r = make("install", "PREFIX=" + prefix)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([os.path.join(prefix, "sbin/bgserviced"), "-t"],
                       capture_output=True, text=True, timeout=30)
    assert r.stderr.startswith(prefix + "/etc/bgserviced.conf"), r.stderr
    # And back: the next plain build is for the default prefix again.
    assert make("all").returncode == 0
    r = subprocess.run([os.path.join(bgs.REPO, "build", "bgserviced"), "-t", "-c",
                        "/nonexistent/x.conf"], capture_output=True, text=True, timeout=30)
    assert not r.stdout
    assert "/etc/bgserviced.conf" in open(os.path.join(bgs.REPO, "build", "paths")).read()
