"""Shared pytest fixtures. The network fixtures (random official-layout checkpoints and the
PyTorch reference, see docs/reference.md) live in fixtures_nets.py; they need torch.

``standin_res50``: a stand-in Res50 checkpoint and SMPL file (cliff._standin), written once per
session in a temporary XDG cache, in the layout `cliff demo` uses: (ckpt, smpl, cache folder).
Tests that need real-format files without the licensed ones share it."""
import pytest

import cliff


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
