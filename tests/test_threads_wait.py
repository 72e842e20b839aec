"""How the core's OpenMP threads wait (docs/performance.md#threads).

libgomp reads GOMP_SPINCOUNT / OMP_WAIT_POLICY once, when cliff loads it with oneDNN; with
OMP_DISPLAY_ENV=VERBOSE it prints the values it took to stderr, which is what these tests read.
Each case runs in a fresh interpreter (the settings cannot change after the load)."""
import os
import subprocess
import sys

import pytest

from cliff import _dnnl

pytestmark = pytest.mark.skipif(_dnnl.library_path() is None, reason="needs the onednn-cpu-gomp wheel")


def libgomp_settings(**env):
    e = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    e.update(env, OMP_DISPLAY_ENV="VERBOSE")
    code = "import os, cliff; print(os.environ.get('GOMP_SPINCOUNT'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    shown = dict(line.strip().replace("'", "").split(" = ", 1) for line in r.stderr.splitlines()
                 if line.strip().startswith(("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")))
    return shown, r.stdout.strip()


def test_default_spin_is_short():
    """Neither variable set: libgomp takes the core's 200 instead of its own 300000."""
    shown, _ = libgomp_settings()
    assert shown["GOMP_SPINCOUNT"] == _dnnl.GOMP_SPINCOUNT == "200"


def test_the_default_does_not_leak_into_the_environment():
    """Child processes (benchmarks' PyTorch workers, subprocesses) see the user's environment."""
    _, after = libgomp_settings()
    assert after == "None"


def test_a_users_spincount_wins():
    shown, after = libgomp_settings(GOMP_SPINCOUNT="1234")
    assert shown["GOMP_SPINCOUNT"] == "1234" and after == "1234"


def test_a_users_wait_policy_wins():
    """OMP_WAIT_POLICY=active means spin without bound: libgomp shows a spin count far above ours."""
    shown, _ = libgomp_settings(OMP_WAIT_POLICY="active")
    assert shown["OMP_WAIT_POLICY"] == "ACTIVE"
    assert int(shown["GOMP_SPINCOUNT"]) > 10**9

