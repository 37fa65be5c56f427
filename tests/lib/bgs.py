"""Helpers for the black-box tests: run the real bgserviced on a free
loopback port with a temp configuration, talk to it over real sockets.

Every wait here is bounded in count and time; only processes started
here are signalled, by pid.
"""
import os
import pwd
import re
import signal
import socket
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The builds the suite runs against: the plain one and ASan+UBSan.
BUILDS = {
    "plain": os.path.join(REPO, "build"),
    "asan": os.path.join(REPO, "build", "asan"),
}

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23:"
                    "strict_string_checks=1:detect_stack_use_after_return=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24",
}
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


# Services run as the user running the tests: as root, the daemon wants
# each service to name its user, and "root" must be said explicitly.
# Running as the daemon's own user (the spool's owner), a service could
# write the spool: the daemon wants that said too (spool_writable).
ME = pwd.getpwuid(os.geteuid()).pw_name


def with_user(services, daemon_user=None):
    """Give each service the tests' own user unless it names one, and
    spool_writable where it runs as the spool's owner."""
    owner = daemon_user or ME
    out = {}
    for name, sv in services.items():
        sv = dict(sv)
        if "user" not in sv:
            sv["user"] = ME
        if "spool_writable" not in sv and sv["user"] == owner:
            sv["spool_writable"] = True
        out[name] = sv
    return out


def svc(script, **kw):
    """A service running SCRIPT with /bin/sh -c, plus other keys."""
    d = {"command": ["/bin/sh", "-c", script]}
    d.update(kw)
    return d


def intervals(path):
    """{name: {"start": t, "end": t}} from "start|end NAME TIME" lines."""
    spans = {}
    for line in path.read_text().split("\n"):
        if line:
            what, name, t = line.split()
            spans.setdefault(name, {})[what] = float(t)
    return spans


def assert_serial(spans, order):
    """SPANS (from intervals()) started in ORDER, none overlapping."""
    started = sorted(spans, key=lambda n: spans[n]["start"])
    assert started == order
    for a, b in zip(started, started[1:]):
        assert spans[a]["end"] <= spans[b]["start"], spans


def connects(addr, timeout=2):
    """Does a TCP connection to ADDR (host, port) succeed?"""
    try:
        socket.create_connection(addr, timeout=timeout).close()
        return True
    except OSError:
        return False


def request_from(port, source, data, timeout=10):
    """Send DATA to the daemon on PORT from loopback address SOURCE
    (127.0.0.2, ...), shut our side down, read the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)


def answers_from(d, source):
    """Does daemon D answer helo to a caller at loopback address SOURCE?"""
    try:
        return request_from(d.port, source, b"helo", 2) == b"oleh"
    except OSError:
        return False


def stat_value(d, key, source=None):
    """The value of the sample KEY in daemon D's stats answer (asked
    from SOURCE if given)."""
    text = d.request(b"stats") if source is None else \
        request_from(d.port, source, b"stats")
    for line in text.decode().splitlines():
        if line.startswith(key + " "):
            return int(line.split()[-1])
    raise KeyError(key)


def child_pids(pid):
    """The pids of PID's children (zombies included)."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def cpu_ticks(pid):
    """User plus system CPU time of PID, in clock ticks (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


# The job queue's verbs, over a plain request each.
ID_RE = re.compile(rb"^id:((?:[A-Za-z0-9]{1,8}_*-)?[0-9a-f]{16})$")


def job_add(d, service, data=b"", shutdown=True):
    """Queue a job of SERVICE with DATA on daemon D; its id."""
    ans = d.request(b"queue:add:%s:%s" % (service.encode(), data), shutdown=shutdown)
    m = ID_RE.match(ans)
    assert m, ans
    return m.group(1).decode()


def job_check(d, jid):
    return d.request(b"queue:check:id:" + jid.encode())


def job_get(d, jid, timeout=60):
    return d.request(b"queue:get:id:" + jid.encode(), timeout=timeout)


def job_info(d, jid):
    """The queue:info answer for JID as a dict."""
    text = d.request(b"queue:info:id:" + jid.encode()).decode()
    return dict(ln.split(" ", 1) for ln in text.splitlines() if " " in ln)


def job_wait_state(d, jid, state, timeout=20):
    """Wait until job JID's check answer is STATE (b"0", b"1", b"2")."""
    return wait_until(lambda: job_check(d, jid) == state, timeout, 0.05)


_given = set()   # ports free_port() has handed out in this process


def free_port(address="127.0.0.1"):
    """A port free for both TCP and UDP on the loopback ADDRESS right now
    (another process may hold a port on 127.0.0.2 that is free on
    127.0.0.1), and not handed out before: two ports asked for before
    either is bound (a daemon's and its metrics') once came out equal."""
    fam = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(50):
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.bind((address, 0))
        port = t.getsockname()[1]
        u = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            u.bind((address, port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        if port in _given:
            continue
        _given.add(port)
        return port
    raise RuntimeError("no free loopback port")


def lc(value, indent=0):
    """Render a Python value as libconfig text."""
    pad = "  " * indent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # libconfig reads an integer beyond 32 bits whole only with an L.
        return str(value) + ("L" if not -2**31 <= value < 2**31 else "")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return "(\n" + ",\n".join(pad + "  " + lc(v, indent + 1)
                                     for v in value) + "\n" + pad + ")"
        return "[ " + ", ".join(lc(v) for v in value) + " ]"
    if isinstance(value, dict):
        body = "".join("%s  %s = %s;\n" % (pad, k, lc(v, indent + 1))
                       for k, v in value.items())
        return "{\n" + body + pad + "}"
    raise TypeError(value)


def render_config(settings):
    return "".join("%s = %s;\n" % (k, lc(v)) for k, v in settings.items())


def wait_until(pred, timeout=10.0, step=0.02):
    """Call PRED until it is true or TIMEOUT passes; its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Daemon:
    """One bgserviced under test, with its own folder and port."""

    def __init__(self, tmp, build="plain", services=None, limits=None,
                 listen=None, extra=None, address="127.0.0.1", port=None):
        self.tmp = str(tmp)
        self.address = address
        self.build = build
        self.sbin = os.environ.get("BGS_SBIN") or BUILDS[build]
        self.bin = os.path.join(self.sbin, "bgserviced")
        self.client = os.path.join(self.sbin, "bgservice")
        self.port = port or free_port(address)
        self.pidfile = os.path.join(self.tmp, "bgserviced.pid")
        self.spool = os.path.join(self.tmp, "spool")
        self.conf = os.path.join(self.tmp, "bgserviced.conf")
        self.logfile = os.path.join(self.tmp, "daemon.log")
        self.proc = None
        self.pid = None
        self.settings = {
            # Detached, it logs to the same file as its standard error in
            # the foreground: tests never depend on the machine's syslog.
            "log": self.logfile,
            "pidfile": self.pidfile,
            "spool_dir": self.spool,
            "listen": listen if listen is not None else
            [{"address": address, "port": self.port}],
            "limits": dict(limits or {}),
            "services": services if services is not None else {
                "upper": {"command": ["/usr/bin/tr", "a-z", "A-Z"]},
                "echo": {"command": ["/bin/cat"]},
            },
        }
        self.settings.update(extra or {})
        self.write_config()

    def env(self):
        e = dict(os.environ)
        e.update(SANITIZER_ENV)
        return e

    def write_config(self, text=None):
        if text is None:
            settings = dict(self.settings)
            settings["services"] = with_user(settings["services"],
                                             settings.get("user"))
            text = render_config(settings)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, foreground=True, wait=True, args=(), wrapper=()):
        """Start it; WRAPPER is a command that execs it (prlimit ... --)."""
        cmd = list(wrapper) + [self.bin] + (["-f"] if foreground else []) + \
            ["-c", self.conf] + list(args)
        log = open(self.logfile, "ab")
        if foreground:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env())
            self.pid = self.proc.pid
        else:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=log, env=self.env(), timeout=30)
            assert r.returncode == 0, self.log()
            self.pid = int(open(self.pidfile).read().strip())
        log.close()
        if wait:
            assert wait_until(self.answers, 15), "daemon did not answer:\n" + self.log()
        return self

    def answers(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("daemon exited %s:\n%s" % (self.proc.returncode, self.log()))
        try:
            return self.request(b"helo", timeout=2) == b"oleh"
        except OSError:
            return False

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10):
        return wait_until(lambda: text in self.log(), timeout)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, check=True):
        """SIGTERM, wait; the daemon must exit 0 with a clean log."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("daemon ignored SIGTERM:\n" + self.log())
            if check:
                assert rc == 0, "daemon exited %d:\n%s" % (rc, self.log())
        else:
            assert wait_until(lambda: not pid_alive(pid), 20), "daemon ignored SIGTERM"
        if check:
            self.check_log()

    def kill9(self):
        pid, self.pid = self.pid, None
        os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def check_log(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "sanitizer report:\n" + text

    # Talking to it.
    def connect(self, timeout=10):
        s = socket.create_connection((self.address, self.port), timeout=timeout)
        return s

    def request(self, data, shutdown=True, timeout=10):
        """Send DATA, optionally shut down our side, read to EOF."""
        with self.connect(timeout) as s:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            return recv_all(s)

    def call(self, service, data=b""):
        return self.request(service.encode() + b":" + data)

    def run_client(self, *args, input=None, host=None, env=None, timeout=60):
        """Run bgservice ARGS against this daemon (HOST instead, if given;
        without -H if HOST is ""), with ENV added to its environment."""
        h = "%s:%d" % (self.address, self.port) if host is None else host
        e = self.env()
        e.update(env or {})
        return subprocess.run([self.client] + (["-H", h] if h else []) + list(args),
                              input=input, capture_output=True, timeout=timeout,
                              env=e)


def recv_all(s, limit=1 << 30):
    chunks = []
    total = 0
    while total < limit:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
        total += len(b)
    return b"".join(chunks)


def read_framed(s):
    """One framed answer "!CODE LEN\\n" + payload from S: (code, payload)."""
    head = b""
    while not head.endswith(b"\n"):
        b = s.recv(1)
        assert b, "connection closed in a framed header: %r" % head
        head += b
    m = re.match(rb"^!(\d{3}) (\d+)( [a-z]+=\S*)*\n$", head)
    assert m, "bad framed answer header %r" % head
    payload = recv_exact(s, int(m.group(2)))
    assert len(payload) == int(m.group(2)), "short framed payload"
    return int(m.group(1)), payload


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        b = s.recv(n - len(data))
        if not b:
            break
        data += b
    return data
