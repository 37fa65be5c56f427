"""Charsets: nothing is transliterated or dropped (bgserviced.conf(5),
charset; bgservice(1), -C), even for a charset name that asks iconv(3)
for it with a suffix."""
import bgs


def test_a_translit_charset_does_not_transliterate(daemon_factory, tmp_path):
    # charset = "ASCII//TRANSLIT" was accepted and its conversions
    # silently replaced what ASCII cannot hold: "é€" reached the command
    # as "?EUR" and the call succeeded.  It must be 415, the command not run.
    ran = tmp_path / "ran"
    d = daemon_factory(services={
        "tr": bgs.svc("cat > %s; cat %s" % (ran, ran), charset="ASCII//TRANSLIT"),
        "eacute": {"command": ["/usr/bin/printf", "\\303\\251"]},
    }).start()
    ans = d.request(b"!call tr 5\n\xc3\xa9\xe2\x82\xac")
    assert ans == b"!415 54\nData cannot be converted from UTF-8 to ASCII//TRANSLIT", ans
    assert not ran.exists()
    assert d.request(b"!call tr 3\nabc") == b"!200 3\nabc"
    # The client's -C is held to the same: an answer that its charset
    # cannot hold exits 1 (bgservice(1)); it printed "?" and exited 0.
    r = d.run_client("-C", "ASCII//TRANSLIT", "call", "eacute")
    assert (r.returncode, r.stdout) == (1, b""), r
    r = d.run_client("-C", "ISO-8859-1", "call", "eacute")
    assert (r.returncode, r.stdout) == (0, b"\xe9"), r
