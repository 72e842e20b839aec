"""Session fixtures for the networks: official-layout random checkpoints + reference models.

Imported by tests/conftest.py, so every test module can ask for:

- ``ref_res50`` / ``ref_hr48``: a :class:`RefNet` (checkpoint path + loaded PyTorch reference in
  eval mode), written ONCE per session into a tmp dir (HR48 is ~316 MB, Res50 ~108 MB);
- ``ref_net``: parametrized over both backbones (res50 first: it is the cheap one);
- helpers :func:`make_inputs` (deterministic crops, boxes, image sizes) and
  :func:`reference_outputs` (what ``Model.predict`` must return, computed with the reference).

Checkpoints hold ``{'model': {'module.' + key: tensor}, 'epoch': 7, 'step': 8533}``, the layout
of the released files (docs/official.md#checkpoint), with weights from
``cliff._standin.random_state_dict(backbone, seed)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

import torch

from cliff._standin import random_state_dict
from reference import torch_cliff as tc

__all__ = ["RefNet", "ref_res50", "ref_hr48", "ref_net", "make_inputs", "reference_outputs",
           "write_checkpoint", "official_key_list", "SEEDS"]

SEEDS = {"hr48": 11, "res50": 12}
DATA = Path(__file__).resolve().parent / "data"


def official_key_list(backbone: str) -> List[Tuple[str, Tuple[int, ...]]]:
    """[(key, shape)] of the released ``backbone`` checkpoint, in ``state_dict()`` order, read from
    tests/data/official_keys_<backbone>.txt (docs/official.md#key-lists)."""
    if backbone not in ("hr48", "res50"):
        raise ValueError(f"backbone: expected 'hr48' or 'res50', got {backbone!r}")
    out = []
    for line in (DATA / f"official_keys_{backbone}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape = line.split(" ", 1)
            out.append((key, tuple(int(v) for v in shape.strip("[] ").split(",") if v.strip())))
    return out


def write_checkpoint(path, backbone: str, seed: int, prefix: str = "module.") -> Dict[str, np.ndarray]:
    """Write random weights; returns the NumPy state dict (keys without prefix).

    ``*.npz``: a flat NumPy archive with the plain keys; anything else: the official layout
    ``torch.save({'model': {prefix + key: tensor}, 'epoch': 7, 'step': 8533})``.
    """
    sd = random_state_dict(backbone, seed)
    if str(path).endswith(".npz"):
        np.savez(str(path), **sd)
        return sd
    model = {prefix + k: torch.from_numpy(v) for k, v in sd.items()}
    torch.save({"model": model, "epoch": 7, "step": 8533}, str(path))
    return sd


@dataclass
class RefNet:
    backbone: str
    path: str          # official-layout .pt checkpoint
    seed: int
    model: "tc.CLIFF"  # reference loaded from `path`, eval mode

    def outputs(self, crops, boxes, img_size, focal=None, n_iter=3):
        return reference_outputs(self.model, crops, boxes, img_size, focal, n_iter)


def _make_ref(tmp_path_factory, backbone: str) -> RefNet:
    d = tmp_path_factory.mktemp("nets")
    path = d / ("%s-random-seed%d.pt" % (backbone, SEEDS[backbone]))
    write_checkpoint(path, backbone, SEEDS[backbone])
    model = tc.load_reference(str(path), backbone)
    return RefNet(backbone, str(path), SEEDS[backbone], model)


@pytest.fixture(scope="session")
def ref_res50(tmp_path_factory) -> RefNet:
    return _make_ref(tmp_path_factory, "res50")


@pytest.fixture(scope="session")
def ref_hr48(tmp_path_factory) -> RefNet:
    return _make_ref(tmp_path_factory, "hr48")


@pytest.fixture(scope="session", params=["res50", "hr48"])
def ref_net(request) -> RefNet:
    return request.getfixturevalue("ref_" + request.param)


def make_inputs(n: int, seed: int = 0, img_size=(1280, 720)):
    """Deterministic, clearly different test inputs for n people.

    Returns a dict: ``crops_u8`` (n,256,192,3) uint8 RGB (smooth random blobs + noise, a
    different pattern per person), ``crops`` (n,3,256,192) float32 normalized from them,
    ``boxes`` (n,3) float32 [cx, cy, b] inside the image, ``img_size`` (2,) float32 (W, H).
    """
    rng = np.random.default_rng(seed)
    w, h = img_size
    low = rng.uniform(0, 255, (n, 8, 6, 3))
    img = np.repeat(np.repeat(low, 32, axis=1), 32, axis=2)  # 256 x 192 blocks
    yy, xx = np.mgrid[0:256, 0:192]
    for i in range(n):  # a per-person gradient so that crops differ at every scale
        img[i] += (40 * np.sin(xx / (7.0 + 3 * i)) * np.cos(yy / (11.0 + 2 * i)))[..., None]
    img += rng.normal(0, 12, img.shape)
    img = 128 + (img - 128) * rng.uniform(0.5, 1.5, (n, 1, 1, 1))  # per-person contrast
    crops_u8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    crops = tc.normalize_crops(torch.from_numpy(crops_u8)).numpy()
    b = rng.uniform(0.25, 0.9, n) * h
    cx = rng.uniform(0.15, 0.85, n) * w
    cy = rng.uniform(0.3, 0.7, n) * h
    boxes = np.stack([cx, cy, b], 1).astype(np.float32)
    return {"crops_u8": crops_u8, "crops": crops, "boxes": boxes,
            "img_size": np.array(img_size, dtype=np.float32)}


def reference_outputs(model, crops, boxes, img_size, focal=None, n_iter=3) -> Dict[str, np.ndarray]:
    """Reference results for ``Model.predict`` as float32 NumPy arrays.

    crops: (N,3,256,192) float32 normalized, or (N,256,192,3) uint8 RGB; boxes (N,3) = [cx, cy, b];
    img_size (2,) or (N,2) = (W, H); focal scalar, (N,) or None (= sqrt(W^2+H^2)).
    Keys: rotmat (N,24,3,3), pose (N,72) axis-angle, betas (N,10), cam_crop (N,3),
    t_full (N,3), bbox_info (N,3), focal (N,), features (N,2048).
    """
    x = torch.as_tensor(np.asarray(crops))
    if x.dtype == torch.uint8:
        x = tc.normalize_crops(x)
    x = x.to(torch.float32)
    n = x.shape[0]
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.float32).reshape(n, 3)
    size = torch.as_tensor(np.asarray(img_size), dtype=torch.float32).reshape(-1, 2).expand(n, 2)
    if focal is None:
        f = tc.default_focal(size.double())
    else:
        f = torch.as_tensor(np.asarray(focal), dtype=torch.float32).reshape(-1).expand(n)
    with torch.no_grad():
        info = tc.bbox_info(boxes, size, f)
        feat = model.encoder(x)
        rotmat, betas, cam = model.regress(feat, info, n_iter)
        t_full = tc.cam_crop2full(cam, boxes, size, f)
        pose = tc.rotmat_to_axis_angle(rotmat).reshape(n, 72)
    out = {"rotmat": rotmat, "pose": pose, "betas": betas, "cam_crop": cam, "t_full": t_full,
           "bbox_info": info, "focal": f, "features": feat}
    return {k: v.detach().numpy().astype(np.float32) for k, v in out.items()}
