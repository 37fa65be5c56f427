"""The log holds one line per message, whatever bytes a caller's data
made a service write on its standard error (bgserviced(8), LOGGING)."""

import bgs


def test_control_characters_of_a_service_stderr_are_escaped(daemon_factory):
    # A service that echoes its data on stderr (a common debugging aid)
    # let a caller write raw escape sequences and carriage returns into
    # the log file: ESC [ 2 J clears the screen of an administrator who
    # runs 'tail -f' on it, CR hides what the line began with.
    d = daemon_factory(services={"err": bgs.svc("cat >&2")}).start()
    data = b"tag1 \x1b[2Jgone\rfake\x07\x7f tab\there \xc3\xa9\n"
    assert d.call("err", data) == b""
    assert d.wait_log("service err: tag1")
    raw = open(d.logfile, "rb").read()
    line = [ln for ln in raw.split(b"\n") if b"service err: tag1" in ln]
    assert len(line) == 1, raw
    assert line[0].endswith(b"service err: tag1 \\033[2Jgone\\015fake\\007\\177 tab\there \xc3\xa9"), line
    for b in range(32):
        if b not in (9, 10):
            assert bytes([b]) not in raw, (b, raw)


def test_a_nul_in_a_service_stderr_line_does_not_cut_it(daemon_factory):
    # What followed a NUL on a line of a service's stderr was dropped
    # from the log without a trace.
    d = daemon_factory(services={"err": bgs.svc("cat >&2")}).start()
    assert d.call("err", b"tag2 before\x00after\n") == b""
    assert d.wait_log("service err: tag2")
    line = [ln for ln in d.log().split("\n") if "service err: tag2" in ln]
    assert line and line[0].endswith("service err: tag2 before\\000after"), line
