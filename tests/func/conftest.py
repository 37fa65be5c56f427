"""pytest fixtures for the black-box tests of bgserviced.

Each test that uses `daemon_factory` (or `daemon`) runs once against the
plain build and once against the ASan+UBSan build; every daemon is
stopped (SIGTERM, exit 0, no sanitizer report) when the test ends.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

import bgs  # noqa: E402


def pytest_report_header(config):
    return "bgserviced builds: " + ", ".join(bgs.BUILDS.values())


@pytest.fixture(params=list(bgs.BUILDS))
def build(request):
    path = os.path.join(bgs.BUILDS[request.param], "bgserviced")
    assert os.access(path, os.X_OK), "%s is not built: run 'make check'" % path
    return request.param


@pytest.fixture
def daemon_factory(tmp_path, build):
    made = []

    def make(sub="d", **kw):
        d = tmp_path / sub
        d.mkdir(exist_ok=True)
        dm = bgs.Daemon(d, build=build, **kw)
        made.append(dm)
        return dm

    yield make
    errors = []
    for dm in made:
        try:
            dm.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def daemon(daemon_factory):
    """A started daemon with the default services (upper, echo)."""
    return daemon_factory().start()
