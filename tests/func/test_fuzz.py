"""Replay the fuzzing corpus (tests/fuzz/corpus) through the libFuzzer
target of the wire format, under ASan and UBSan: every input once, no
fuzzing.  A missing clang is a failure (the Makefile installs it as
root), never a skip.
"""
import os
import subprocess

import bgs

FUZZ = os.path.join(bgs.REPO, "tests", "fuzz")


def test_fuzz_corpus_replays_clean():
    corpus = sorted(os.listdir(os.path.join(FUZZ, "corpus")))
    assert len(corpus) >= 50, "the seed corpus is missing"
    r = subprocess.run(["make", "-s", "-C", FUZZ, "fuzz-regress"],
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-20000:]
    assert "Running %d inputs" % len(corpus) in out, out[-20000:]
    assert out.count("Executed corpus/") == len(corpus), out[-20000:]
    for mark in bgs.SANITIZER_MARKS + ("invariant broken",):
        assert mark not in out, out[-20000:]
