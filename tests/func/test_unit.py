"""Run the C unit tests (tests/unit, built with ASan+UBSan) one by one,
and the static checks of make lint."""
import os
import subprocess

import pytest

import bgs

UNIT = os.path.join(bgs.REPO, "build", "unit")


def unit_names():
    if not os.access(UNIT, os.X_OK):
        raise RuntimeError("%s is not built: run 'make check'" % UNIT)
    out = subprocess.run([UNIT, "-l"], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("name", unit_names())
def test_unit(name):
    r = subprocess.run([UNIT, name], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **bgs.SANITIZER_ENV))
    assert r.returncode == 0 and "ok - " + name in r.stdout, r.stdout + r.stderr


def test_make_lint():
    """mandoc -Tlint, shellcheck and cppcheck (the Makefile's 'lint')
    find nothing; a missing tool is a failure (make check installs them)."""
    r = subprocess.run(["make", "-s", "-C", bgs.REPO, "lint"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
