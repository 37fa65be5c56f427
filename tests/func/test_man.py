"""The manual pages: mandoc-clean, and in step with the code.

Each check reads the code it documents (usage lines, the key lists of
src/config.c, the environment src/child.c builds, the client's command
table, the error codes the daemon answers), so that a page that drifts
from the code fails here.  Where it can, a check runs both ways: what the
code has must be documented, and what a list in the page names must
exist in the code.
"""
import ast
import operator
import os
import re
import shutil
import subprocess

import pytest

import bgs

MAN = os.path.join(bgs.REPO, "man")
SRC = os.path.join(bgs.REPO, "src")
PAGES = ("bgserviced.8", "bgserviced.conf.5", "bgservice.1")


def read(*parts):
    with open(os.path.join(bgs.REPO, *parts)) as f:
        return f.read()


def page(name):
    return read("man", name)


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


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


# SYNOPSIS == usage()

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


def getopt_letters(file):
    m = re.search(r'getopt\(argc, argv, "\+?([^"]*)"\)', read("src", file))
    assert m, "no getopt() in %s" % file
    return set(re.sub(r"[:+]", "", m.group(1)))


@pytest.mark.parametrize("file,name", [("bgserviced.c", "bgserviced.8"),
                                       ("bgservice.c", "bgservice.1")])
def test_every_option_described(file, name):
    desc = section(page(name), "DESCRIPTION")
    assert set(items(desc, "Fl")) == getopt_letters(file)


# bgserviced.conf(5): every key of src/config.c

KEY_LISTS = ("root_keys", "limit_keys", "listen_keys", "metrics_keys", "service_keys")


def c_string_array(src, name):
    m = re.search(r"\b%s\s*\[\]\s*=\s*\{(.*?)\};" % name, src, re.S)
    assert m, "no array %s in the source" % name
    return re.findall(r'"([^"]*)"', m.group(1))


def config_keys():
    src = strip_c_comments(read("src", "config.c"))
    keys = {name: c_string_array(src, name) for name in KEY_LISTS}
    for name, got in keys.items():
        assert got, "%s is empty or was not parsed" % name
    return keys


def test_every_config_key_documented():
    src = page("bgserviced.conf.5")
    documented = set(items(src, "Ic"))
    for name, keys in config_keys().items():
        missing = [k for k in keys if k not in documented]
        assert not missing, "%s not documented in bgserviced.conf.5: %s" % (name, missing)


def test_no_key_documented_that_the_code_lacks():
    known = set().union(*config_keys().values())
    extra = set(items(page("bgserviced.conf.5"), "Ic")) - known
    assert not extra, "bgserviced.conf.5 documents unknown keys: %s" % sorted(extra)


def test_reserved_names_documented():
    src = strip_c_comments(read("src", "proto.c"))
    services = section(page("bgserviced.conf.5"), "SERVICES")
    for name in c_string_array(src, "reserved_names"):
        assert re.search(r"^\.Li %s\b" % re.escape(name), services, re.M), name


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.LShift: operator.lshift}


def c_int(expr):
    """Evaluate a small C integer constant expression (1LL << 30, 86400 * 7)."""
    expr = re.sub(r"(?<=\d)[uUlL]+\b", "", expr.strip())

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        raise ValueError("cannot evaluate %r" % expr)
    return ev(ast.parse(expr, mode="eval"))


def has_number(text, n):
    return re.search(r"(?<![\d.])%d(?!\d)" % n, text) is not None


def integer_keys():
    """{key: (min, max, default or None)} from src/config.c."""
    src = strip_c_comments(read("src", "config.c"))
    hdr = strip_c_comments(read("include", "bgserviced.h"))
    defines = {m.group(1): m.group(2) for m in
               re.finditer(r"^#define\s+(DEF_\w+)\s+(.+?)\s*$", hdr, re.M)}
    fields = {m.group(1): defines[m.group(2)] for m in
              re.finditer(r"l->(\w+)\s*=\s*(DEF_\w+);", src)}
    out = {}
    for m in re.finditer(r'LIMIT\("(\w+)",\s*([^,]+),\s*([^,]+),\s*(\w+)\)', src):
        key, lo, hi, field = m.groups()
        # A default computed from other keys (max_per_source) has no DEF_.
        out[key] = (c_int(lo), c_int(hi),
                    c_int(fields[field]) if field in fields else None)
    for m in re.finditer(r'cfg_int\(ctx,\s*\w+,\s*"(\w+)",\s*([^,]+),\s*([^,]+),'
                         r'\s*&(\w+)\)', src):
        key, lo, hi, var = m.groups()
        d = re.search(r"\b%s\s*=\s*(DEF_\w+);" % var, src)
        out[key] = (c_int(lo), c_int(hi), c_int(defines[d.group(1)]) if d else None)
    assert "max_request" in out and "port" in out, "LIMIT/cfg_int calls not parsed"
    return out


def test_integer_ranges_and_defaults_documented():
    src = page("bgserviced.conf.5")
    for key, (lo, hi, default) in integer_keys().items():
        text = item_text(src, "Ic", key)
        for what, n in (("minimum", lo), ("maximum", hi), ("default", default)):
            if n is not None:
                assert has_number(text, n), "%s: %s %d not in its item" % (key, what, n)
        if default is not None:
            assert re.search(r"Default: %d\b" % default, text), \
                "%s: 'Default: %d' not in its item" % (key, default)


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


# bgserviced(8): the environment of a service, the error codes

def child_env_names():
    src = strip_c_comments(read("src", "child.c"))
    names = []
    for m in re.finditer(r"\benv_add\((.*?)\);", src, re.S):
        lit = re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', m.group(1))
        if lit:
            names.append(lit[0])
    assert "BGS_SERVICE" in names, "env_add() calls not parsed: %s" % names
    return names


def test_every_service_variable_documented():
    env = section(page("bgserviced.8"), "ENVIRONMENT")
    documented = set(re.findall(r"\bEv (\w+)", "\n".join(
        ln for ln in env.splitlines() if ln.startswith(".It "))))
    missing = [n for n in child_env_names() if n not in documented]
    assert not missing, "not in ENVIRONMENT of bgserviced.8: %s" % missing


def test_no_variable_documented_that_child_c_does_not_set():
    env = section(page("bgserviced.8"), "ENVIRONMENT")
    listed = set(re.findall(r"\bEv (\w+)", "\n".join(
        ln for ln in env.splitlines() if ln.startswith(".It "))))
    extra = listed - set(child_env_names())
    assert not extra, "bgserviced.8 lists variables child.c never sets: %s" % sorted(extra)


def answered_error_codes():
    """The 4xx and 5xx codes the daemon's sources (all but the client's)
    hand to an answer, return, or store as a job's result.  The HTTP
    statuses of http.c are another protocol's, checked below."""
    codes = set()
    for f in sorted(os.listdir(SRC)):
        if not f.endswith(".c") or f in ("bgservice.c", "http.c"):
            continue
        src = strip_c_comments(read("src", f))
        codes |= {int(c) for c in re.findall(r"(?:return|\?|:|,|=)\s*([45]\d\d)\b", src)}
    assert {400, 408, 413, 502}.issubset(codes), "codes not parsed: %s" % codes
    return codes


def test_every_error_code_documented():
    m = re.search(r"^\.Ss Errors\n(.*?)(?=^\.S[sh] )", page("bgserviced.8"), re.M | re.S)
    assert m, "no Errors subsection in bgserviced.8"
    documented = {int(c) for c in items(m.group(1), "Li") if c.isdigit()}
    code = answered_error_codes()
    assert code - documented == set(), "codes not in Errors: %s" % sorted(code - documented)
    assert documented - code == set(), \
        "Errors lists codes the code never answers: %s" % sorted(documented - code)


def stats_names():
    """The metric names stats.c answers (COUNTER and GAUGE, their
    per-service table), without the bgserviced_ prefix."""
    src = strip_c_comments(read("src", "stats.c"))
    names = set(re.findall(r'\b(?:COUNTER|GAUGE)\("(\w+)"', src))
    names |= set(re.findall(r'\{\s*"(\w+_total)",', src))
    names |= set(re.findall(r'emit_head\(b, "\w+", "(\w+)"', src))
    assert {"connections_total", "calls_total", "children"} <= names, names
    return names


def test_every_counter_documented():
    documented = set(re.findall(r"\bLi bgserviced_(\w+)", section(page("bgserviced.8"),
                                                                 "STATISTICS")))
    code = stats_names()
    assert code - documented == set(), "not in STATISTICS: %s" % sorted(code - documented)
    assert documented - code == set(), \
        "STATISTICS lists what stats.c never answers: %s" % sorted(documented - code)


def test_every_http_status_documented():
    src = strip_c_comments(read("src", "http.c"))
    m = re.search(r"\breasons\[\]\s*=\s*\{(.*?)\};", src, re.S)
    assert m, "no reasons[] table in src/http.c"
    codes = {int(c) for c in re.findall(r"\{\s*(\d{3}),", m.group(1))}
    assert {200, 400, 404, 405}.issubset(codes), codes
    text = section(page("bgserviced.8"), "STATISTICS")
    missing = [c for c in sorted(codes) if not has_number(text, c)]
    assert not missing, "HTTP statuses not in STATISTICS of bgserviced.8: %s" % missing


# bgservice(1): commands and exit statuses

def client_commands():
    src = strip_c_comments(read("src", "bgservice.c"))
    m = re.search(r"\bcommands\[\]\s*=\s*\{(.*?)\};", src, re.S)
    assert m, "no commands[] table in src/bgservice.c"
    names = re.findall(r'\{\s*"([^"]+)"\s*,', m.group(1))
    assert names, "commands[] not parsed"
    return names


def test_every_client_command_documented():
    documented = set(items(section(page("bgservice.1"), "DESCRIPTION"), "Cm"))
    missing = [c for c in client_commands() if c not in documented]
    assert not missing, "commands not documented in bgservice.1: %s" % missing


def test_no_client_command_documented_that_the_code_lacks():
    documented = set(items(section(page("bgservice.1"), "DESCRIPTION"), "Cm"))
    extra = documented - set(client_commands())
    assert not extra, "bgservice.1 documents unknown commands: %s" % sorted(extra)


def test_client_exit_statuses_documented():
    src = read("src", "bgservice.c")
    codes = {int(v) for v in re.findall(r"^#define\s+EXIT_\w+\s+(\d+)\s*$", src, re.M)}
    assert codes, "no EXIT_ defines in src/bgservice.c"
    codes.add(0)
    documented = {int(c) for c in re.findall(
        r"^\.It (\d+)$", section(page("bgservice.1"), "EXIT STATUS"), re.M)}
    assert documented == codes, "EXIT STATUS of bgservice.1 lists %s, the code exits %s" % (
        sorted(documented), sorted(codes))
