"""The manual pages: mandoc-clean, and in step with what the binaries do.

Each check holds a page against the programs' behaviour, never against
their sources: the options the programs accept (getopt's verdict), the
configuration keys and ranges `bgserviced -t` accepts and refuses, the
statistics a running daemon answers, the error codes it answers when
provoked, the environment a service sees, the client's commands and
exit statuses.  Where it can, a check runs both ways: what a page lists
must be accepted, and what it does not list must be refused.
"""
import grp
import os
import re
import shutil
import socket
import string
import subprocess
import time

import pytest

import bgs

MAN = os.path.join(bgs.REPO, "man")
PAGES = ("bgserviced.8", "bgserviced.conf.5", "bgservice.1")
MY_GROUP = grp.getgrgid(os.getegid()).gr_name


def read(*parts):
    with open(os.path.join(bgs.REPO, *parts)) as f:
        return f.read()


def page(name):
    return read("man", name)


def section(src, title):
    """The mdoc source of section TITLE (.Sh TITLE up to the next .Sh)."""
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh |\Z)" % re.escape(title), src,
                  re.M | re.S)
    assert m, "no section %s" % title
    return m.group(1)


def items(src, macro):
    """The first argument of every '.It MACRO arg' line in SRC."""
    return re.findall(r"^\.It %s (\S+)" % macro, src, re.M)


def item_text(src, macro, name):
    """The source of the item '.It MACRO NAME', up to the next .It or .El."""
    m = re.search(r"^\.It %s %s(?:[ \t][^\n]*)?\n(.*?)(?=^\.It |^\.El)" %
                  (macro, re.escape(name)), src, re.M | re.S)
    assert m, ".It %s %s not found" % (macro, name)
    return m.group(1)


def mandoc():
    path = shutil.which("mandoc")
    assert path, "mandoc is not installed (.ci/deps check installs it)"
    return path


def binary(name):
    path = os.path.join(bgs.BUILDS["plain"], name)
    assert os.access(path, os.X_OK), "%s is not built: run 'make check'" % path
    return path


# mandoc -Tlint

@pytest.mark.parametrize("name", PAGES)
def test_mandoc_lint_clean(name):
    r = subprocess.run([mandoc(), "-Tlint", "-Wwarning", os.path.join(MAN, name)],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r.stdout + r.stderr


@pytest.mark.parametrize("name", PAGES)
def test_prologue(name):
    src = page(name)
    title, sec = name.rsplit(".", 1)
    head = src.split(".Sh NAME")[0]
    assert re.search(r"^\.Dd [A-Z][a-z]+ \d{1,2}, \d{4}$", head, re.M), "no .Dd date"
    assert re.search(r"^\.Dt %s %s$" % (re.escape(title.upper()), sec), head, re.M)
    assert re.search(r"^\.Os$", head, re.M)


# SYNOPSIS == usage(), DESCRIPTION's options == what getopt accepts

def rendered_synopsis(name):
    r = subprocess.run([mandoc(), "-Tascii", "-Owidth=1000", os.path.join(MAN, name)],
                       capture_output=True, text=True, timeout=60, check=True)
    text = re.sub(r".\x08", "", r.stdout)
    m = re.search(r"^SYNOPSIS\n(.*?)(?=^\S)", text, re.M | re.S)
    assert m, "no SYNOPSIS in %s" % name
    return " ".join(m.group(1).split())


def usage_line(prog):
    r = subprocess.run([binary(prog), "-h"], capture_output=True, text=True, timeout=30)
    lines = r.stderr.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("usage: ")]
    assert starts, "%s -h printed no usage line: %r" % (prog, r.stderr)
    # The usage may go on over indented continuation lines.
    i = starts[0]
    text = lines[i][len("usage: "):]
    while i + 1 < len(lines) and lines[i + 1].startswith("   "):
        i += 1
        text += " " + lines[i]
    return " ".join(text.split())


@pytest.mark.parametrize("prog,name", [("bgserviced", "bgserviced.8"),
                                       ("bgservice", "bgservice.1")])
def test_synopsis_is_usage(prog, name):
    assert rendered_synopsis(name) == usage_line(prog)


# Each letter is given last, after arguments that keep the program from
# doing anything: the daemon only tests a configuration that does not
# exist, the client has no command.  getopt(3) names a letter it does not
# know "invalid option"; a known one that wants an argument "requires an
# argument".
HARMLESS = {"bgserviced": ["-t", "-c", "/nonexistent/bgserviced.conf"],
            "bgservice": ["-H", "127.0.0.1:1"]}


def accepted_letters(prog):
    letters = set()
    for c in string.ascii_letters + string.digits:
        r = subprocess.run([binary(prog)] + HARMLESS[prog] + ["-" + c],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode != 0 or c in "hV", (prog, c, r.stderr)
        if "invalid option" not in r.stderr:
            letters.add(c)
    assert "h" in letters and "Q" not in letters, letters
    return letters


@pytest.mark.parametrize("prog,name", [("bgserviced", "bgserviced.8"),
                                       ("bgservice", "bgservice.1")])
def test_every_option_described(prog, name):
    # The commands' own options (add -k, jobs -S) follow, in their list.
    desc = section(page(name), "DESCRIPTION").split("The commands are:")[0]
    assert set(items(desc, "Fl")) == accepted_letters(prog)


# bgserviced.conf(5): every documented key is accepted by bgserviced -t,
# an undocumented one refused, in each place a key can stand.

# The page's sections, and where their keys go in a configuration.
CONF_SECTIONS = {"GLOBAL SETTINGS": "root", "LISTEN": "listen",
                 "METRICS": "metrics", "LIMITS": "limits",
                 "SERVICES": "service"}


def documented_keys():
    """{(place, key): type} for every '.It Ic key No = Ar type' of the
    page, the type being integer, boolean, string, path, list, group."""
    src = page("bgserviced.conf.5")
    out = {}
    for title, place in CONF_SECTIONS.items():
        for m in re.finditer(r"^\.It Ic (\w+) No = (.*)$", section(src, title), re.M):
            key, rest = m.groups()
            if place == "metrics" and key == "metrics":
                continue        # the block itself, a global setting
            t = re.match(r"Ar (\w+)", rest)
            kind = {"[": "list", "(": "list", "{": "group"}.get(rest[0])
            out[(place, key)] = kind or t.group(1)
    assert ("limits", "max_request") in out and ("listen", "port") in out, out
    return out


def sample(place, key, kind, tmp):
    """A value the daemon should take for KEY at PLACE."""
    by_key = {
        ("root", "pidfile"): os.path.join(tmp, "other.pid"),
        ("root", "spool_dir"): os.path.join(tmp, "other-spool"),
        ("root", "log"): os.path.join(tmp, "other.log"),
        ("root", "node"): "web1",
        ("root", "listen"): [{"address": "127.0.0.1", "port": bgs.free_port()}],
        ("root", "limits"): {"max_jobs": 2},
        ("root", "services"): {"other": {"command": ["/bin/cat"]}},
        ("root", "user"): bgs.ME, ("root", "group"): MY_GROUP,
        ("root", "allow"): ["127.0.0.0/8", "::1"],
        ("root", "metrics"): {"address": "127.0.0.1", "port": bgs.free_port()},
        ("listen", "address"): "127.0.0.1",
        ("listen", "path"): os.path.join(tmp, "sock"),
        ("listen", "mode"): "0600",
        ("listen", "owner"): bgs.ME, ("listen", "group"): MY_GROUP,
        ("listen", "allow_uid"): [bgs.ME], ("listen", "allow_gid"): [MY_GROUP],
        ("metrics", "address"): "127.0.0.1",
        ("metrics", "allow"): ["127.0.0.1"],
        ("service", "command"): ["/bin/cat"],
        ("service", "charset"): "ISO-8859-1",
        ("service", "user"): bgs.ME, ("service", "group"): MY_GROUP,
        ("service", "env"): ["FOO=bar"],
        ("service", "on_done"): ["/bin/true"],
        ("service", "on_done_when"): "failure",
        ("service", "allow"): ["127.0.0.1"],
        ("root", "tokens"): ["s3cret"], ("service", "tokens"): ["s3cret"],
        ("root", "udp_key"): "0123456789abcdef",
        ("service", "udp_key"): "0123456789abcdef",
        ("service", "retry_backoff"): 1.5,
        ("service", "retry_on"): ["exit", "timeout"],
    }
    if (place, key) in by_key:
        return by_key[(place, key)]
    if kind == "integer":
        return int_range(place, key)[0]
    if kind == "boolean":
        return True
    raise AssertionError("no sample value for %s %s (%s): add one" % (place, key, kind))


UNIX_KEYS = ("path", "mode", "owner", "group", "allow_uid", "allow_gid")


def config_with(tmp, place, key, value):
    """A configuration in TMP with KEY = VALUE at PLACE; its path."""
    d = bgs.Daemon(tmp, services={"svc": {"command": ["/bin/cat"]}})
    st = d.settings
    if place == "root":
        st[key] = value
        if key == "group":
            st["user"] = bgs.ME     # a group goes with a user
    elif place == "limits":
        st["limits"][key] = value
    elif place == "service":
        st["services"]["svc"][key] = value
    elif place == "metrics":
        st["metrics"] = {"address": "127.0.0.1", "port": bgs.free_port()}
        st["metrics"][key] = value
    elif key in UNIX_KEYS:
        st["listen"].append({"path": os.path.join(tmp, "sock"), key: value})
    else:
        st["listen"][0][key] = value
    d.write_config()
    return d.conf


def conf_test(conf):
    return subprocess.run([binary("bgserviced"), "-t", "-c", conf],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30)


def accepts(tmp, place, key, value):
    r = conf_test(config_with(tmp, place, key, value))
    return r.returncode == 0, r.stderr


@pytest.fixture
def conftmp(tmp_path):
    """A folder for one configuration after another."""
    n = [0]

    def make():
        n[0] += 1
        d = tmp_path / ("c%d" % n[0])
        d.mkdir()
        return str(d)
    return make


def test_every_documented_key_is_accepted(conftmp):
    refused = []
    for (place, key), kind in sorted(documented_keys().items()):
        tmp = conftmp()
        ok, err = accepts(tmp, place, key, sample(place, key, kind, tmp))
        if not ok:
            refused.append("%s %s: %s" % (place, key, err.strip()))
    assert not refused, "documented keys bgserviced -t refuses:\n" + "\n".join(refused)


@pytest.mark.parametrize("place", ["root", "listen", "metrics", "limits", "service"])
def test_an_undocumented_key_is_refused(conftmp, place):
    documented = {k for (p, k) in documented_keys() if p == place}
    key = "no_such_key"
    assert key not in documented
    ok, err = accepts(conftmp(), place, key, 1)
    assert not ok and "no_such_key" in err, err
    # The same configuration without it is fine: the key made the difference.
    d = bgs.Daemon(conftmp(), services={"svc": {"command": ["/bin/cat"]}})
    assert conf_test(d.conf).returncode == 0


def test_reserved_names_documented_and_refused(conftmp):
    services = section(page("bgserviced.conf.5"), "SERVICES")
    para = services.split(".Bl ")[0]
    names = re.findall(r"^\.Li (\w+)", para, re.M)
    assert "helo" in names and "stats" in names, names
    for name in names + [n.upper() for n in names]:
        d = bgs.Daemon(conftmp(), services={name: {"command": ["/bin/cat"]}})
        r = conf_test(d.conf)
        assert r.returncode != 0 and "protocol verb" in r.stderr, (name, r.stderr)
    d = bgs.Daemon(conftmp(), services={"heloo": {"command": ["/bin/cat"]}})
    assert conf_test(d.conf).returncode == 0


def int_range(place, key):
    """The documented (minimum, maximum) of the integer KEY at PLACE."""
    title = {v: k for k, v in CONF_SECTIONS.items()}[place]
    text = item_text(section(page("bgserviced.conf.5"), title), "Ic", key)
    m = re.search(r"(\\?-?\d+)(?:\s+\([^)]*\))?\s+to\s+(\d+)", text)
    assert m, "%s: no 'N to M' range in its item" % key
    return int(m.group(1).replace("\\", "")), int(m.group(2))


def integer_keys():
    return sorted(pk for pk, kind in documented_keys().items() if kind == "integer")


def test_integer_ranges_are_what_the_daemon_takes(conftmp):
    wrong = []
    for place, key in integer_keys():
        lo, hi = int_range(place, key)
        for value, want in ((lo, True), (hi, True), (lo - 1, False), (hi + 1, False)):
            ok, err = accepts(conftmp(), place, key, value)
            if ok != want:
                wrong.append("%s = %d: %s" % (key, value,
                                              "refused: " + err.strip() if want else "accepted"))
    assert not wrong, "documented ranges the daemon disagrees with:\n" + "\n".join(wrong)


def test_integer_defaults_documented_in_range():
    src = page("bgserviced.conf.5")
    for place, key in integer_keys():
        title = {v: k for k, v in CONF_SECTIONS.items()}[place]
        text = item_text(section(src, title), "Ic", key)
        m = re.search(r"Default: (\d+)\b", text)
        if m is None:
            continue        # computed (max_per_source) or none (rlimit_*)
        lo, hi = int_range(place, key)
        assert lo <= int(m.group(1)) <= hi, (key, m.group(1), lo, hi)


def strip_conf_comments(text):
    """The words of libconfig TEXT without its comments (strings kept)."""
    out, quoted, i = [], False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
            out.append(c)
        elif c == "#" or text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out).split()


def test_conf_example_is_etc_bgserviced_conf():
    ex = section(page("bgserviced.conf.5"), "EXAMPLES")
    m = re.search(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", ex, re.M | re.S)
    assert m, "no literal display in EXAMPLES"
    shown = m.group(1).replace("\\e", "\\").replace("\\(dq", '"').replace("\\&", "")
    assert strip_conf_comments(shown) == strip_conf_comments(read("etc", "bgserviced.conf"))




# A running daemon: statistics, environment, error codes, HTTP statuses,
# the client's commands and exit statuses.

@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """One plain-build daemon with a service for each error to provoke."""
    tmp = tmp_path_factory.mktemp("man")
    svc = bgs.svc
    d = bgs.Daemon(tmp, build="plain", limits={
        "max_request": 4096, "max_output": 4096, "request_timeout": 1,
        "kill_grace": 0,
    }, listen=None, services={
        "echo": {"command": ["/bin/cat"]},
        "env": {"command": ["/usr/bin/env"]},
        "fails": svc("exit 3"),
        "denied": {"command": ["/bin/cat"], "allow": ["10.0.0.0/8"]},
        "notcp": {"command": ["/bin/cat"], "tcp": False, "udp": True},
        "latin": {"command": ["/bin/cat"], "charset": "ISO-8859-1"},
        "slow": svc("exec sleep 30", timeout=1),
        "big": svc("head -c 8192 /dev/zero"),
        "busy": svc("exec sleep 1", max_instances=1),
        "hang": svc("exec sleep 30", timeout=0),
        "tokened": {"command": ["/bin/cat"], "tokens": ["s3cret"]},
    }, extra={"metrics": {"address": "127.0.0.1", "port": bgs.free_port()}})
    d.settings["listen"][0]["udp"] = True
    d.write_config()
    d.start()
    yield d
    d.stop()


add = bgs.job_add


def code_of(answer):
    m = re.match(rb"^([45]\d\d): .*\n$", answer)
    assert m, "not an error line: %r" % answer
    return int(m.group(1))


def test_every_counter_documented(running):
    documented = set(re.findall(r"\bLi bgserviced_(\w+)", section(page("bgserviced.8"),
                                                                 "STATISTICS")))
    answered = set(re.findall(r"^# TYPE bgserviced_(\w+) ",
                              running.request(b"stats").decode(), re.M))
    assert {"connections_total", "calls_total", "children"} <= answered, answered
    assert answered - documented == set(), \
        "not in STATISTICS: %s" % sorted(answered - documented)
    assert documented - answered == set(), \
        "STATISTICS lists what stats never answers: %s" % sorted(documented - answered)


def environment_names(d):
    names = set()
    for line in d.call("env").decode().splitlines():
        names.add(line.split("=", 1)[0])
    jid = add(d, "env")
    out = d.request(b"queue:get:id:" + jid.encode(), timeout=30).decode()
    for line in out.splitlines():
        names.add(line.split("=", 1)[0])
    return names


def test_service_environment_is_documented(running):
    """What a service sees, over TCP and as a job, is what ENVIRONMENT
    lists (the sanitizer settings of the tests' own environment aside:
    the daemon hands a service none of its own environment)."""
    env = section(page("bgserviced.8"), "ENVIRONMENT")
    documented = set(re.findall(r"\bEv (\w+)", "\n".join(
        ln for ln in env.splitlines() if ln.startswith(".It "))))
    seen = environment_names(running)
    assert "BGS_SERVICE" in seen and "BGS_JOB_ID" in seen, seen
    assert seen - documented == set(), \
        "services see variables ENVIRONMENT does not list: %s" % sorted(seen - documented)
    assert documented - seen == set(), \
        "ENVIRONMENT lists variables no service sees: %s" % sorted(documented - seen)


def provoke(d, code):
    """Make the daemon answer CODE; its answer."""
    if code == 400:
        return d.call("nosuch")
    if code == 401:
        return d.call("tokened")
    if code == 403:
        return d.call("denied")
    if code == 404:
        return d.request(b"queue:check:id:0123456789abcdef")
    if code == 405:
        return d.call("notcp")
    if code == 408:
        with d.connect() as s:      # sends nothing: request_timeout is 1
            return bgs.recv_all(s)
    if code == 409:
        jid = add(d, "echo")
        assert d.request(b"queue:get:id:" + jid.encode()) == b""
        return d.request(b"queue:cancel:id:" + jid.encode())
    if code == 410:
        jid = add(d, "hang")
        assert d.request(b"queue:cancel:id:" + jid.encode()) == b"cancelled"
        return d.request(b"queue:get:id:" + jid.encode())
    if code == 413:
        return d.call("echo", b"x" * 5000)
    if code == 415:
        return d.call("latin", "\u20ac".encode())
    if code == 429:
        return per_source_refusal(d)
    if code == 500:
        return d.request(b"queue:frob:id:0123456789abcdef")
    if code == 502:
        return d.call("fails")
    if code == 503:
        return busy_answer(d)
    if code == 504:
        return d.call("slow")
    if code == 507:
        return d.call("big")
    raise AssertionError("no way to provoke %d: add one" % code)


def busy_answer(d):
    """Two calls of "busy" (one instance at most) at once: one runs, the
    other is refused; the refusal."""
    conns = [d.connect(), d.connect()]
    try:
        for c in conns:
            c.sendall(b"busy:")
            c.shutdown(socket.SHUT_WR)
        answers = sorted(bgs.recv_all(c) for c in conns)
    finally:
        for c in conns:
            c.close()
    assert answers[0] == b"", answers     # the run: sleep says nothing
    return answers[1]


def per_source_refusal(d):
    """429 from a daemon of its own with max_per_source 1, while one
    connection from the same address is held open; else what it said."""
    tmp = os.path.join(d.tmp, "per-source")
    os.makedirs(tmp, exist_ok=True)
    other = bgs.Daemon(tmp, build="plain", limits={"max_per_source": 1})
    other.start()
    seen = []
    try:
        # The held connection may itself be refused while the child of
        # the last request is not yet reaped: then hold another.
        for _ in range(50):
            with other.connect():
                seen.append(other.request(b"helo", timeout=5))
                if seen[-1].startswith(b"429"):
                    return seen[-1]
            time.sleep(0.05)
    finally:
        other.stop()
    return b"%r\n%s" % (seen[:5], other.log().encode())


# The codes provoke() knows how to make the daemon answer.
PROVOKED = {400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 429, 500, 502, 503,
            504, 507}


def test_every_error_code_documented_and_answered(running):
    m = re.search(r"^\.Ss Errors\n(.*?)(?=^\.S[sh] )", page("bgserviced.8"), re.M | re.S)
    assert m, "no Errors subsection in bgserviced.8"
    documented = {int(c) for c in items(m.group(1), "Li") if c.isdigit()}
    assert {400, 408, 413, 502} <= documented, documented
    assert documented - PROVOKED == set(), \
        "documented codes this test cannot provoke: %s" % sorted(documented - PROVOKED)
    assert PROVOKED - documented == set(), \
        "codes the daemon answers that Errors lacks: %s" % sorted(PROVOKED - documented)
    wrong = {}
    for code in sorted(documented):
        ans = provoke(running, code)
        if not re.match(rb"^%d: .*\n$" % code, ans):
            wrong[code] = ans
    assert not wrong, "documented codes the daemon did not answer: %s" % wrong


def http_status(d, data):
    with socket.create_connection(("127.0.0.1", d.settings["metrics"]["port"]),
                                  timeout=10) as s:
        s.sendall(data)
        m = re.match(rb"^HTTP/1\.1 (\d{3}) ", bgs.recv_all(s))
    assert m, "no HTTP status line for %r" % data
    return int(m.group(1))


def test_every_http_status_documented(running):
    """The statuses of the metrics listener, provoked, are in STATISTICS."""
    answered = {http_status(running, data) for data in (
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",      # 200
        b"garbage\r\n\r\n",                                 # 400
        b"GET /other HTTP/1.1\r\n\r\n",                     # 404
        b"POST /metrics HTTP/1.1\r\n\r\n",                  # 405
        b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n",  # 431
        b"GET /metrics HTTP/2.0\r\n\r\n")}                  # 505
    assert answered == {200, 400, 404, 405, 431, 505}, answered
    text = section(page("bgserviced.8"), "STATISTICS")
    missing = [c for c in sorted(answered) if not has_number(text, c)]
    assert not missing, "HTTP statuses not in STATISTICS of bgserviced.8: %s" % missing


def has_number(text, n):
    return re.search(r"(?<![\d.])%d(?!\d)" % n, text) is not None


# bgservice(1): commands and exit statuses

def client_commands():
    """{command: number of required arguments} from DESCRIPTION."""
    desc = section(page("bgservice.1"), "DESCRIPTION")
    out = {}
    for m in re.finditer(r"^\.It Cm (\S+)(.*)$", desc, re.M):
        args = re.sub(r"Oo .*? Oc|Op Ar \w+", "", m.group(2))  # options too
        out[m.group(1)] = len(re.findall(r"\bAr \w+", args))
    assert "call" in out and out["call"] == 1, out
    return out


def run_client(*args, timeout=30):
    return subprocess.run([binary("bgservice")] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def test_every_documented_client_command_is_accepted(running):
    """Each command, with the arguments DESCRIPTION gives it, is not a
    usage error (against a closed port: 111, or 0 for send over UDP)."""
    wrong = {}
    for cmd, nargs in client_commands().items():
        r = run_client("-H", "127.0.0.1:1", cmd, *["0123456789abcdef"] * nargs)
        if r.returncode == 100 or "unknown command" in r.stderr:
            wrong[cmd] = r.stderr
    assert not wrong, "documented commands bgservice refuses: %s" % wrong


def test_an_undocumented_client_command_is_refused():
    assert "frobnicate" not in client_commands()
    r = run_client("-H", "127.0.0.1:1", "frobnicate")
    assert r.returncode == 100 and "unknown command 'frobnicate'" in r.stderr, r.stderr


def test_client_exit_statuses_documented(running):
    """Each status EXIT STATUS lists, provoked."""
    host = ["-H", "127.0.0.1:%d" % running.port]
    got = {
        0: run_client(*host, "ping").returncode,
        1: run_client(*host, "call", "fails").returncode,
        2: run_client(*host, "call", "nosuch").returncode,
        100: run_client(*host).returncode,
        111: run_client("-H", "127.0.0.1:1", "ping").returncode,
    }
    documented = {int(c) for c in re.findall(
        r"^\.It (\d+)$", section(page("bgservice.1"), "EXIT STATUS"), re.M)}
    assert documented == set(got), "EXIT STATUS of bgservice.1 lists %s, this test %s" % (
        sorted(documented), sorted(got))
    assert {want: rc for want, rc in got.items() if want != rc} == {}, got
