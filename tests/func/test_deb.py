"""The Debian package: `make deb`, lintian, its contents, and a real
install, use, remove and purge with dpkg on this machine.

The package is built once for the module, with `make deb B=<temp>`, so
that the build happens in a copy of the tree under a temp folder and
never touches the checkout or its build/.  The package build does not
run this test suite (debian/rules overrides dh_auto_test): it would
recurse into this file, and needs root and minutes.

The install test changes the machine (a package, a system user): CI runs
it as root on a throwaway machine.  It refuses to run, saying why, when
not root, and when a bgservice it did not install is already there.
"""
import fcntl
import grp
import os
import pwd
import re
import signal
import stat
import subprocess
import warnings

import pytest

import bgs

PKG = "bgservice"
SPOOL = "/var/spool/bgserviced"
CONF = "/etc/bgserviced.conf"
# Two runs of this file on one machine (two checkouts) take turns.
LOCK = "/run/lock/bgservice-test-deb.lock"
# nocheck: the package build never runs this suite (debian/rules
# overrides dh_auto_test too); parallel: the build is most of the time.
DEB_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C",
               DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 1))


def run(*cmd, timeout=300, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True,
                       timeout=timeout, env=DEB_ENV)
    if check:
        assert r.returncode == 0, "%s: %s%s" % (cmd, r.stdout, r.stderr)
    return r


def version():
    """The version the built daemon reports (bgserviced -V)."""
    r = subprocess.run([os.path.join(bgs.BUILDS["plain"], "bgserviced"), "-V"],
                       capture_output=True, text=True, timeout=30)
    m = re.fullmatch(r"bgserviced (\S+)\n", r.stdout + r.stderr)
    assert r.returncode == 0 and m, "bgserviced -V: %r %r" % (r.stdout, r.stderr)
    return m.group(1)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    run("make", "-s", "-C", bgs.REPO, "deb", "B=%s" % out, timeout=900)
    path = out / ("%s_%s_%s.deb" % (PKG, version(), run(
        "dpkg", "--print-architecture").stdout.strip()))
    assert path.exists(), sorted(os.listdir(out))
    return path


def test_make_deb_leaves_its_results_in_the_build_folder(deb):
    names = set(os.listdir(deb.parent))
    stem = deb.name[:-len(".deb")]
    assert {deb.name, stem + ".buildinfo", stem + ".changes"} <= names
    # Only the results: the copy of the tree it was built in is gone.
    assert "deb" not in names
    # And the checkout's debian/ holds nothing a build left ("!!").
    if not os.path.exists(os.path.join(bgs.REPO, ".git")):
        return
    st = run("git", "-C", bgs.REPO, "status", "--porcelain", "--ignored",
             "debian").stdout
    assert "!!" not in st, st


def test_lintian_reports_no_error_or_warning(deb):
    r = run("lintian", "--info", str(deb), check=False)
    bad = [ln for ln in r.stdout.splitlines() if ln[:2] in ("E:", "W:")]
    assert bad == [], r.stdout
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_holds_programs_pages_configuration_and_init(deb):
    listing = run("dpkg-deb", "-c", str(deb)).stdout
    modes = {}
    for ln in listing.splitlines():
        f = ln.split()
        modes[f[5].rstrip("/")] = f[0]
    for path in ("./usr/sbin/bgserviced", "./usr/bin/bgservice",
                 "./etc/init.d/bgserviced"):
        assert modes.get(path, "")[:4] == "-rwx", (path, listing)
    for path in ("./usr/share/man/man8/bgserviced.8.gz",
                 "./usr/share/man/man5/bgserviced.conf.5.gz",
                 "./usr/share/man/man1/bgservice.1.gz",
                 "./etc/bgserviced.conf", "./etc/bgservice.conf",
                 "./etc/default/bgserviced",
                 "./lib/systemd/system/bgserviced.service",
                 "./usr/share/doc/bgservice/copyright"):
        assert modes.get(path, "")[:1] == "-", (path, listing)
    assert modes.get("./var/spool/bgserviced", "")[:1] == "d", listing
    conffiles = run("dpkg-deb", "--info", str(deb), "conffiles").stdout.split()
    assert sorted(conffiles) == ["/etc/bgservice.conf", CONF,
                                 "/etc/default/bgserviced",
                                 "/etc/init.d/bgserviced",
                                 "/etc/logrotate.d/bgserviced"]
    fields = run("dpkg-deb", "-f", str(deb), "Package", "Version",
                 "Depends").stdout
    assert "Package: bgservice\n" in fields
    assert "Version: %s\n" % version() in fields
    assert "adduser" in fields


def test_packaged_configuration_runs_as_bgservice_from_the_spool(deb, tmp_path):
    run("dpkg-deb", "-x", str(deb), str(tmp_path))
    with open(tmp_path / CONF.lstrip("/")) as f:
        text = f.read()
    assert re.search(r'^spool_dir = "/var/spool/bgserviced";$', text, re.M)
    assert re.search(r'^user = "bgservice";$', text, re.M)
    # The same pidfile the init script and the unit expect.
    with open(tmp_path / "lib/systemd/system/bgserviced.service") as f:
        assert "PIDFile=/run/bgserviced.pid" in f.read()
    assert re.search(r'^pidfile = "/var/run/bgserviced.pid";$', text, re.M)


def refusal():
    """Why the install test must not run here, or None."""
    if os.geteuid() != 0:
        return ("not root: dpkg -i installs the package into this machine; "
                "CI runs this as root on a throwaway machine")
    r = run("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    if r.returncode == 0 and "not-installed" not in r.stdout:
        return "package bgservice is on this machine already (%s)" % r.stdout
    for path in ("/usr/sbin/bgserviced", CONF, "/etc/init.d/bgserviced",
                 SPOOL):
        if os.path.lexists(path):
            return "%s exists and is no package's: not touching it" % path
    return None


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def drop_user():
    """Remove the user bgservice, which a purge keeps on purpose."""
    if user_exists(PKG):
        run("userdel", PKG)
    try:
        grp.getgrnam(PKG)
        run("groupdel", PKG)
    except KeyError:
        pass


def pkg_status():
    r = run("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    if r.returncode != 0 or r.stdout.endswith("not-installed"):
        return "unknown"
    return r.stdout


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))


def run_packaged_daemon(tmp_path):
    """Run the installed daemon on the installed configuration, moved to a
    free port and a pidfile of its own, call a service, stop it."""
    port = bgs.free_port()
    with open(CONF) as f:
        text = f.read()
    text = text.replace("port = 12341;", "port = %d;" % port)
    text = text.replace('"/var/run/bgserviced.pid"',
                        '"%s"' % (tmp_path / "d.pid"))
    conf = tmp_path / "d.conf"
    conf.write_text(text)
    p = subprocess.Popen(["/usr/sbin/bgserviced", "-f", "-c", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert bgs.wait_until(lambda: bgs.connects(("127.0.0.1", port)),
                              timeout=10), p.stdout.read1(65536)
        # It becomes bgservice once its sockets are open.
        assert bgs.wait_until(lambda: uid_of(p.pid) == pwd.getpwnam(
            PKG).pw_uid, timeout=10), uid_of(p.pid)
        r = run("/usr/bin/bgservice", "-H", "127.0.0.1:%d" % port, "call",
                "upper", "hello", timeout=20)
        assert r.stdout == "HELLO"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)


def run_init_script():
    """Start the installed daemon with the installed init script, detached,
    on the installed configuration moved to a free port (an edit of the
    conffile, as an administrator's), call it, and stop it."""
    port = bgs.free_port()
    with open(CONF) as f:
        text = f.read()
    with open(CONF, "w") as f:
        f.write(text.replace("port = 12341;", "port = %d;" % port))
    init = "/etc/init.d/bgserviced"
    try:
        run(init, "start", timeout=30)
        assert "is running" in run(init, "status").stdout
        r = run("/usr/bin/bgservice", "-H", "127.0.0.1:%d" % port, "call",
                "upper", "hi", timeout=20)
        assert r.stdout == "HI"
    finally:
        run(init, "stop", timeout=60, check=False)
    assert run(init, "status", check=False).returncode == 3


def test_install_use_remove_purge(request, tmp_path):
    why = refusal()
    if why is not None:
        warnings.warn("test_deb: install test not run: " + why)
        pytest.skip(why)
    deb = request.getfixturevalue("deb")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A user left by an earlier run's purge: the install must make it.
        drop_user()
        try:
            install_use_remove_purge(deb, tmp_path)
        finally:
            if pkg_status() != "unknown":
                run("dpkg", "--purge", PKG, check=False)
            drop_user()


def install_use_remove_purge(deb, tmp_path):
    r = run("dpkg", "-i", str(deb), check=False)
    # The postinst ends well even where it cannot start the service (no
    # systemd as PID 1, no runlevel: a container, a CI machine).
    assert r.returncode == 0, r.stdout + r.stderr
    assert pkg_status() == "install ok installed"
    # Where an init did start it (systemd or sysvinit as PID 1), stop
    # it: the test runs the daemon itself, on the same spool.
    if os.path.exists("/run/bgserviced.pid"):
        run("/etc/init.d/bgserviced", "stop")

    pw = pwd.getpwnam(PKG)
    assert pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin"), pw
    assert grp.getgrgid(pw.pw_gid).gr_name == PKG
    r = run("/usr/sbin/bgserviced", "-t", "-c", CONF)
    assert "OK" in r.stdout + r.stderr
    st = os.stat(SPOOL)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)

    run_packaged_daemon(tmp_path)
    # The daemon, as bgservice, locked its spool: the spool now holds
    # the user's files.
    assert os.stat(os.path.join(SPOOL, "lock")).st_uid == pw.pw_uid

    run_init_script()

    # Remove keeps the configuration and the user's data.
    run("dpkg", "--remove", PKG)
    assert pkg_status() == "deinstall ok config-files"
    assert not os.path.exists("/usr/sbin/bgserviced")
    assert os.path.exists(CONF)
    assert os.path.exists(os.path.join(SPOOL, "lock"))

    # Purge takes them; the system user stays (see debian/bgservice.postrm).
    run("dpkg", "--purge", PKG)
    assert pkg_status() == "unknown"
    for path in (SPOOL, CONF, "/etc/bgservice.conf", "/etc/default/bgserviced",
                 "/etc/init.d/bgserviced", "/lib/systemd/system/bgserviced.service"):
        assert not os.path.lexists(path), path
    assert user_exists(PKG)
