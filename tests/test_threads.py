"""Thread settings: per-object `threads=` (Model, SMPL, Estimator) and the default OpenMP wait
policy set by `import cliff` (issue 14; speed: benchmarks/bench_threads.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import cliff


@pytest.fixture(scope="module")
def files(standin_res50):
    return standin_res50[:2]


def _crops(n=2):
    rng = np.random.default_rng(1)
    return (rng.integers(0, 256, (n, 256, 192, 3), dtype=np.uint8),
            np.tile([[80.0, 90.0, 150.0]], (n, 1)))


def test_model_threads_is_its_own_and_follows_the_process_count_when_unset(files):
    m = cliff.load_model(files[0], threads=1)
    assert m.threads == 1
    m.threads = None                              # back to the process-wide count
    assert m.threads == cliff.get_num_threads()


def test_model_results_do_not_depend_on_its_thread_count(files):
    crops, boxes = _crops()
    a = cliff.load_model(files[0], threads=1).predict(crops, boxes, (320, 240))
    b = cliff.load_model(files[0]).predict(crops, boxes, (320, 240))
    for k in ("rotmat", "betas", "t_full"):
        np.testing.assert_array_equal(a[k], b[k])   # the convolutions split no reduction


def test_smpl_and_estimator_take_threads(files):
    s = cliff.SMPL(files[1], threads=1)
    assert s.threads == 1
    est = cliff.Estimator(files[0], files[1], threads=1)
    assert est.model.threads == 1 and est.smpl.threads == 1


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                      (True, TypeError), (10**6, ValueError)])
def test_bad_threads_are_rejected_naming_the_argument(files, bad, exc):
    with pytest.raises(exc, match="^threads: expected"):
        cliff.load_model(files[0], threads=bad)
    with pytest.raises(exc, match="^threads: expected"):
        cliff.SMPL(files[1], threads=bad)


def _policy(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c",
                          "import os, cliff; print(os.environ.get('OMP_WAIT_POLICY', '-'))"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_leaves_the_users_wait_policy_alone():
    """cliff's default is a short spin given to libgomp at load (tests/test_threads_wait.py);
    OMP_WAIT_POLICY is never set or changed by the import."""
    assert _policy({}) == "-"
    assert _policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
    assert _policy({"OMP_WAIT_POLICY": "PASSIVE"}) == "PASSIVE"
