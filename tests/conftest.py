"""Shared pytest fixtures. The network fixtures (random official-layout checkpoints and the
PyTorch reference, see docs/reference.md) live in fixtures_nets.py; they need torch.

``standin_res50``: a stand-in Res50 checkpoint and SMPL file (cliff._standin), written once per
session in a temporary XDG cache, in the layout `cliff demo` uses: (ckpt, smpl, cache folder).
Tests that need real-format files without the licensed ones share it. ``body``/``fb``: the
procedural stand-in body and its FitBody (annotator tests); ``opencv_without_ipp``: OpenCV's
own resize code for the duration of a test."""
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
