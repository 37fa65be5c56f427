"""The spool and the pidfile are trusted only as the daemon made them: a
link is never followed, a folder others may write is refused, and a full
spool leaves no job stuck nor a finished job called interrupted.

Run as root (the attacks are against root); where something cannot be
done (not root, no tmpfs) the test is skipped with the reason printed.
"""
import os
import re
import subprocess
import time

import pytest

import bgs

SECRET = b"root's secret\n"

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the attacks are on a daemon started as root")


def secret_file(tmp_path):
    """A root-only 0600 file that a link will point to."""
    p = tmp_path / "secret"
    p.write_bytes(SECRET)
    os.chmod(p, 0o600)
    os.chown(p, 0, 0)
    return p


def assert_untouched(p):
    st = os.lstat(p)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600), st
    assert p.read_bytes() == SECRET


def start_fails(d):
    """Start D in the foreground: it must refuse, exit non-zero, and say so."""
    r = subprocess.run([d.bin, "-f", "-c", d.conf], capture_output=True,
                       text=True, timeout=30, env=d.env())
    assert r.returncode != 0, r
    for mark in bgs.SANITIZER_MARKS:
        assert mark not in r.stderr, r.stderr
    return r.stderr


def nobody_daemon(daemon_factory, tmp_path, **kw):
    """A daemon started as root that gives up root for nobody."""
    for p in (tmp_path, tmp_path / "d"):
        p.mkdir(exist_ok=True)
        os.chmod(p, 0o755)
    d = daemon_factory(extra={"user": "nobody"},
                       services={"who": bgs.svc("id -u", user="nobody")}, **kw)
    os.chmod(d.conf, 0o644)
    return d


@needs_root
def test_symlinked_lock_is_refused(daemon_factory, tmp_path):
    """nobody, owning the spool, turns `lock` into a link to a root file:
    the next start refuses it and never gives the file away."""
    d = nobody_daemon(daemon_factory, tmp_path)
    d.start()
    d.stop()
    assert os.stat(d.spool).st_uid == 65534
    secret = secret_file(tmp_path)
    lock = os.path.join(d.spool, "lock")
    os.unlink(lock)
    os.symlink(secret, lock)
    err = start_fails(d)
    assert "spool %s: lock: a symbolic link" % d.spool in err, err
    assert "not started" in err
    assert_untouched(secret)


@needs_root
def test_symlinked_tmp_files_are_not_followed(daemon_factory, tmp_path):
    """Recovery runs as the spool's owner and never writes through a
    planted `.tmp-` link, whatever pid or job it guesses."""
    d = nobody_daemon(daemon_factory, tmp_path,
                      limits={"max_jobs": 1})
    d.settings["services"]["slow"] = bgs.svc("sleep 30", user="nobody")
    d.write_config()
    d.start()
    jid = bgs.job_add(d, "slow")
    assert bgs.wait_until(lambda: d.request(
        b"queue:check:id:" + jid.encode()) == b"1", 20)
    d.kill9()
    # The runner dies with the master and ends the job; the spool's owner
    # makes it look running again, as after a power cut.
    done = os.path.join(d.spool, jid + ".done")
    assert bgs.wait_until(lambda: os.path.exists(done), 20)
    time.sleep(0.5)
    os.unlink(done)
    secret = secret_file(tmp_path)
    # Links named as the recovery of this job would name its temp file,
    # for the pids the next daemon is likely to get.
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    with open("/proc/sys/kernel/pid_max") as f:
        maxpid = int(f.read())
    for pid in range(last + 1, min(last + 5000, maxpid)):
        os.symlink(secret, os.path.join(d.spool, ".tmp-%s.done-%d" % (jid, pid)))
    os.symlink(secret, os.path.join(d.spool, "%s.cancel" % jid))
    d.start()
    assert_untouched(secret)
    info = d.request(b"queue:info:id:" + jid.encode()).decode()
    assert "result interrupted" in info and "code 503" in info, info
    d.stop()
    assert_untouched(secret)


@needs_root
def test_symlinked_pidfile_is_refused(daemon_factory, tmp_path):
    d = daemon_factory()
    secret = secret_file(tmp_path)
    os.symlink(secret, d.pidfile)
    err = start_fails(d)
    assert "pidfile %s: a symbolic link: not started" % d.pidfile in err, err
    assert_untouched(secret)
    assert os.path.islink(d.pidfile)


@needs_root
def test_pidfile_in_a_folder_others_may_write_is_refused(daemon_factory, tmp_path):
    d = daemon_factory()
    folder = tmp_path / "open"
    folder.mkdir()
    os.chmod(folder, 0o777)
    d.settings["pidfile"] = str(folder / "b.pid")
    d.write_config()
    err = start_fails(d)
    assert "its folder may be written by others" in err, err
    assert not os.path.exists(folder / "b.pid")


@needs_root
def test_symlinked_spool_is_refused(daemon_factory, tmp_path):
    d = daemon_factory()
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.chmod(target, 0o700)
    (target / "keep").write_bytes(SECRET)
    os.symlink(target, d.spool)
    err = start_fails(d)
    assert "spool %s: a symbolic link or not a directory" % d.spool in err, err
    assert sorted(os.listdir(target)) == ["keep"]
    assert os.stat(target).st_uid == 0 and os.stat(target).st_mode & 0o777 == 0o700
    assert not os.path.exists(d.pidfile)


def test_world_writable_spool_is_refused(daemon_factory):
    d = daemon_factory()
    os.mkdir(d.spool)
    os.chmod(d.spool, 0o777)
    err = start_fails(d)
    assert "spool %s: writable by its group or others" % d.spool in err, err
    assert os.listdir(d.spool) == []
    assert os.stat(d.spool).st_mode & 0o777 == 0o777
    os.chmod(d.spool, 0o700)
    d.start()
    assert d.call("upper", b"ok") == b"OK"


@needs_root
def test_spool_of_another_user_is_refused(daemon_factory, tmp_path):
    """A spool left by root is not handed to nobody's daemon, and
    nothing in it is chowned."""
    d = nobody_daemon(daemon_factory, tmp_path)
    os.mkdir(d.spool, 0o700)
    with open(os.path.join(d.spool, "lock"), "w"):
        pass
    err = start_fails(d)
    assert "spool %s: owned by another user" % d.spool in err, err
    assert os.stat(os.path.join(d.spool, "lock")).st_uid == 0
    assert os.stat(d.spool).st_uid == 0


@needs_root
def test_service_as_spool_owner_needs_saying_so(daemon_factory):
    d = daemon_factory(services={"x": {"command": ["/bin/cat"],
                                       "spool_writable": False}})
    r = subprocess.run([d.bin, "-t", "-c", d.conf], capture_output=True, text=True)
    assert r.returncode == 1
    assert re.search(r"%s:\d+: service 'x' would run as uid %d, the owner of "
                     r"the spool" % (re.escape(d.conf), os.geteuid()), r.stderr), r.stderr


# A full spool

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size,
                        "bgs-test", path], capture_output=True, text=True)
    if r.returncode != 0:
        print("cannot mount a tmpfs: %s" % r.stderr.strip())
        pytest.skip("cannot mount a tmpfs on %s: %s" % (path, r.stderr.strip()))


def fill(path):
    """Write a filler file in PATH until the file system is full."""
    filler = os.path.join(path, "filler")
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 20):
            try:
                os.write(fd, block)
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


info = bgs.job_info
add = bgs.job_add


@pytest.fixture
def tmpfs_spool(daemon_factory, tmp_path):
    gate = tmp_path / "gate"
    out = 64 * 1024
    d = daemon_factory(limits={"max_jobs": 2}, services={
        "gated": bgs.svc("while [ ! -e %s ]; do sleep 0.05; done; head -c %d /dev/zero"
                         % (gate, out), timeout=120),
        "quick": {"command": ["/bin/cat"]}})
    if os.geteuid() != 0:
        print("not root: cannot mount a tmpfs")
        pytest.skip("not root: cannot mount a tmpfs")
    mount_tmpfs(d.spool, "1m")
    try:
        yield d, gate, out
    finally:
        d.stop(check=False)
        subprocess.run(["umount", "-l", d.spool], capture_output=True)


def test_full_spool_leaves_no_job_stuck(tmpfs_spool):
    d, gate, out = tmpfs_spool
    d.start()
    done = add(d, "gated")
    assert bgs.wait_until(lambda: info(d, done).get("status") == "1", 20)
    # Full, but for one page: a job is queued and cannot be marked running.
    filler = fill(d.spool)
    os.truncate(filler, os.path.getsize(filler) - 4096)
    queued = add(d, "quick", b"q")
    # Full: the gated job ends with exit 0 and cannot publish its result.
    fill(d.spool)
    gate.write_text("go")
    assert d.wait_log("cannot publish its result", 20), d.log()
    time.sleep(1.5)
    assert info(d, done)["status"] == "1"
    assert info(d, queued)["status"] == "0"
    # Its attempt cannot be counted, or it cannot be marked running.
    assert "cannot count its attempt" in d.log() or \
        "cannot mark it running" in d.log()
    # Space returns: both end, the first with all of its output.
    os.unlink(filler)
    assert bgs.wait_until(lambda: info(d, done).get("status") == "2", 20), d.log()
    assert bgs.wait_until(lambda: info(d, queued).get("status") == "2", 20), d.log()
    i = info(d, done)
    assert (i["code"], i["result"], i["output_bytes"]) == ("200", "exit 0", str(out)), i
    i = info(d, queued)
    assert (i["code"], i["result"], i["output_bytes"]) == ("200", "exit 0", "1"), i
    d.stop()


def test_full_spool_at_stop_is_not_called_interrupted(tmpfs_spool):
    """The daemon stops while a finished job's result cannot be stored:
    the next start does not call the job interrupted."""
    d, gate, out = tmpfs_spool
    d.start()
    jid = add(d, "gated")
    assert bgs.wait_until(lambda: info(d, jid).get("status") == "1", 20)
    filler = fill(d.spool)
    gate.write_text("go")
    assert d.wait_log("cannot publish its result", 20), d.log()
    d.stop()
    os.unlink(filler)
    d.start()
    i = info(d, jid)
    assert i["status"] == "2", i
    assert i["result"] == "exit 0" and i["code"] == "500", i
    assert i["message"] == "Job done, but its result could not be stored", i
    assert "interrupted" not in d.request(b"queue:get:id:" + jid.encode()).decode()


def test_full_spool_at_start_leaves_no_job_stuck(tmpfs_spool):
    """Stopped and started again with the spool full: the job that was
    running is finished as interrupted once space returns, no restart
    needed, and a job queued before runs."""
    d, gate, out = tmpfs_spool
    d.settings["limits"]["max_jobs"] = 1
    d.write_config()
    d.start()
    running = add(d, "gated")
    assert bgs.wait_until(lambda: info(d, running).get("status") == "1", 20)
    queued = add(d, "quick", b"later")
    assert info(d, queued)["status"] == "0"
    filler = fill(d.spool)
    d.stop()
    d.start()
    time.sleep(1)
    assert info(d, running)["status"] == "1"
    assert info(d, queued)["status"] == "0"
    os.unlink(filler)
    assert bgs.wait_until(lambda: info(d, running).get("status") == "2", 20), d.log()
    i = info(d, running)
    assert (i["code"], i["result"]) == ("503", "interrupted"), i
    assert bgs.wait_until(lambda: info(d, queued).get("status") == "2", 20), d.log()
    assert info(d, queued)["code"] == "200"
