"""Shared pytest fixtures. The network fixtures (random official-layout checkpoints and the
PyTorch reference, see docs/reference.md) live in fixtures_nets.py; they need torch.

``standin_res50``: a stand-in Res50 checkpoint and SMPL file (cliff._standin), written once per
session in a temporary XDG cache, in the layout `cliff demo` uses: (ckpt, smpl, cache folder).
Tests that need real-format files without the licensed ones share it. ``body``/``fb``: the
procedural stand-in body and its FitBody (annotator tests); ``opencv_without_ipp``: OpenCV's
own resize code for the duration of a test; ``c_program``: builds a test program of tests/c/
against the core's sources and oneDNN (-Wall -Wextra -Werror) and runs it."""
import pytest

import cliff


@pytest.fixture(scope="module")
def body():
    """The procedural stand-in body (cliff._standin.procedural_body) the annotator tests fit."""
    from cliff._standin import procedural_body
    return procedural_body(0)


@pytest.fixture(scope="module")
def fb(body):
    """The fitter's view of ``body`` (cliff.annotate.fit.FitBody)."""
    from cliff.annotate.fit import FitBody
    return FitBody.from_smpl(body)


@pytest.fixture
def opencv_without_ipp():
    """OpenCV's own resize code (Intel IPP off) for the duration of a test: the reference
    the crop and the letterbox are bit-equal to."""
    import cv2
    old = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    yield
    cv2.ipp.setUseIPP(old)


@pytest.fixture
def c_program(tmp_path):
    """run(main_c, sources, opt="-O1"): build tests/c/<main_c> with the given core sources
    (paths relative to the repository) against the onednn-cpu-gomp library, C11, warnings as
    errors, then run it and assert it exits 0 printing "ok". Skips without a C compiler or the
    oneDNN headers."""
    import os
    import shutil
    import subprocess
    from cliff import _dnnl
    cc = shutil.which("gcc") or shutil.which("cc")
    lib = _dnnl.library_path()
    if cc is None or lib is None:
        pytest.skip("needs a C compiler and the onednn-cpu-gomp library")
    include = os.path.join(os.path.dirname(os.path.dirname(lib)), "include")
    if not os.path.exists(os.path.join(include, "oneapi", "dnnl", "dnnl.h")):
        pytest.skip("oneDNN headers (onednn-devel-cpu-gomp) not installed")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def run(main_c, sources, opt="-O1"):
        exe = str(tmp_path / os.path.splitext(main_c)[0])
        cmd = [cc, "-std=c11", opt, "-fopenmp", "-Wall", "-Wextra", "-Werror",
               "-I", os.path.join(repo, "csrc"), "-I", include,
               os.path.join(repo, "tests", "c", main_c), *(os.path.join(repo, f) for f in sources),
               lib, "-Wl,-rpath," + os.path.dirname(lib), "-lm", "-o", exe]
        build = subprocess.run(cmd, capture_output=True, text=True)
        assert build.returncode == 0, build.stderr[-3000:]
        done = subprocess.run([exe], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]

    return run


@pytest.fixture(scope="session")
def standin_res50(tmp_path_factory):
    cache = tmp_path_factory.mktemp("xdg-cache")
    folder = cache / "cliff" / f"standin-{cliff.__version__}"
    ckpt, smpl = cliff._standin.standin_files("res50", str(folder))
    return ckpt, smpl, str(cache)


try:
    import torch  # noqa: F401
except ImportError:  # torch is a test extra; without it the network tests skip themselves
    pass
else:
    from fixtures_nets import *  # noqa: F401,F403
