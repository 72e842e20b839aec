"""The HRNet-W48 trunk with the 720-channel conv neck (BEDLAM-CLIFF, CameraHMR's HumanFoV) in the
C core, against the PyTorch reference tests/reference/torch_families.py (docs/official.md#hrnet720).

The core builds it by name ("hr48_720": keys under "backbone.", 224 x 224 input) and returns the
global average of the 720-channel neck, the features BEDLAM's head and HumanFoV pool."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cliff import _core
from cliff._standin import random_state_dict
from cliff.model import expected_keys
from reference import torch_families as tf

pytestmark = pytest.mark.slow  # a 60M-parameter trunk, built twice


@pytest.fixture(scope="module")
def trunk():
    """Random weights in the trunk's layout; the reference (with its unused final_layer) loaded
    from them; the core network built from the same arrays."""
    sd = random_state_dict("hr48_720", seed=5)
    ref = tf.HRNet720()
    full = {"backbone." + k: v for k, v in ref.state_dict().items()}
    for k in full:
        if k in sd:
            full[k] = torch.from_numpy(sd[k])
    ref.load_state_dict({k[len("backbone."):]: v for k, v in full.items()}, strict=True)
    ref.eval()
    names = list(sd)
    net = _core.Model("hr48_720", "fp32", names, [sd[k] for k in names], False)
    return ref, net


def test_key_table_is_the_reference_state_dict_minus_final_layer():
    """Names, shapes and order of the core's table equal the reference module's state_dict
    under 'backbone.', without the unused heatmap conv (final_layer)."""
    ref = [("backbone." + k, tuple(v.shape)) for k, v in tf.HRNet720().state_dict().items()
           if not k.startswith("final_layer.")]
    assert list(expected_keys("hr48_720").items()) == ref


@pytest.mark.parametrize("n", [1, 3])
def test_features_match_reference(trunk, n):
    ref, net = trunk
    x = np.random.default_rng(n).standard_normal((n, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).mean(dim=(2, 3)).numpy()
    got = net.features(x)
    assert got.shape == (n, 720)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_trunk_has_no_regressor(trunk):
    _, net = trunk
    x = np.zeros((1, 3, 224, 224), np.float32)
    with pytest.raises(ValueError, match="no regressor"):
        net.predict(x, np.ones((1, 3), np.float32), np.ones((1, 2), np.float32), np.ones(1, np.float32), 3)


def test_wrong_crop_size_is_refused(trunk):
    _, net = trunk
    with pytest.raises(ValueError, match=r"\(N, 3, 224, 224\)"):
        net.features(np.zeros((1, 3, 256, 192), np.float32))
