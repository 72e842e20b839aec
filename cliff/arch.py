"""The two CLIFF architectures as data: checkpoint keys, backbone detection, random weights.

Everything here is generated from a compact description of the networks (stage, branch and
block loops), not from a pasted list, and it needs only NumPy:

- :func:`expected_keys` gives every ``state_dict`` key of an official checkpoint (after any
  ``module.`` prefix is stripped) with its shape, in PyTorch ``state_dict()`` order.
- :func:`detect_backbone` tells ``'hr48'`` from ``'res50'`` by their keys.
- :func:`random_state_dict` makes deterministic random weights with realistic BatchNorm
  statistics, for tests and the stand-in checkpoints of ``make demo``.
"""
from __future__ import annotations

from typing import Dict, Iterable, Tuple

import numpy as np

__all__ = ["BACKBONES", "expected_keys", "detect_backbone",
           "MEAN_ROOT_6D", "MEAN_SHAPE", "MEAN_CAM"]

BACKBONES = ("hr48", "res50")

# Official mean parameters (smpl_mean_params.npz), the values the checkpoints start from.
MEAN_ROOT_6D = (1.0, 0.0, 0.0, -1.0000004768371582, 0.0, 1.5099581673894136e-07)
MEAN_SHAPE = (0.20560974, 0.33556297, -0.35068282, 0.35612896, 0.41754073,
              0.030887909, 0.30475676, 0.23613405, 0.20912662, 0.31212646)
MEAN_CAM = (0.9, 0.0, 0.0)

NPOSE, NSHAPE, NCAM, NBBOX, FEAT, HIDDEN = 144, 10, 3, 3, 2048, 1024

# HRNet-W48 (classification variant as CLIFF builds it)
HR48_WIDTHS = (48, 96, 192, 384)          # branch widths
HR48_MODULES = {2: 1, 3: 4, 4: 3}         # stage -> number of modules; stage S has S branches
HR48_BLOCKS = 4                            # BasicBlocks per branch per module
HR48_HEAD_PLANES = (32, 64, 128, 256)      # Bottleneck planes of incre_modules
# ResNet-50: (planes, blocks) per layer; stride sits on block 0 (not visible in the keys)
RES50_LAYERS = ((64, 3), (128, 4), (256, 6), (512, 3))

Shape = Tuple[int, ...]


class _Keys:
    """Appends keys in the order PyTorch registers them."""

    def __init__(self) -> None:
        self.d: Dict[str, Shape] = {}

    def conv(self, name: str, cout: int, cin: int, k: int, bias: bool = False) -> None:
        self.d[name + ".weight"] = (cout, cin, k, k)
        if bias:
            self.d[name + ".bias"] = (cout,)

    def bn(self, name: str, c: int) -> None:
        for s in ("weight", "bias", "running_mean", "running_var"):
            self.d["%s.%s" % (name, s)] = (c,)
        self.d[name + ".num_batches_tracked"] = ()

    def conv_bn(self, name: str, cout: int, cin: int, k: int, bias: bool = False) -> None:
        """nn.Sequential(conv, BN[, ReLU]) -> '.0' conv, '.1' BN."""
        self.conv(name + ".0", cout, cin, k, bias)
        self.bn(name + ".1", cout)

    def linear(self, name: str, cout: int, cin: int) -> None:
        self.d[name + ".weight"] = (cout, cin)
        self.d[name + ".bias"] = (cout,)

    def basic(self, name: str, c: int) -> None:
        self.conv(name + ".conv1", c, c, 3)
        self.bn(name + ".bn1", c)
        self.conv(name + ".conv2", c, c, 3)
        self.bn(name + ".bn2", c)

    def bottleneck(self, name: str, cin: int, planes: int, stride: int = 1) -> int:
        cout = 4 * planes
        self.conv(name + ".conv1", planes, cin, 1)
        self.bn(name + ".bn1", planes)
        self.conv(name + ".conv2", planes, planes, 3)
        self.bn(name + ".bn2", planes)
        self.conv(name + ".conv3", cout, planes, 1)
        self.bn(name + ".bn3", cout)
        if stride != 1 or cin != cout:
            self.conv_bn(name + ".downsample", cout, cin, 1)
        return cout


def _hr48_encoder(K: _Keys, e: str) -> None:
    w = HR48_WIDTHS
    K.conv(e + "conv1", 64, 3, 3)
    K.bn(e + "bn1", 64)
    K.conv(e + "conv2", 64, 64, 3)
    K.bn(e + "bn2", 64)
    c = 64
    for k in range(4):
        c = K.bottleneck("%slayer1.%d" % (e, k), c, 64)
    # transition1: branch 0 keeps the resolution (plain conv-BN-ReLU), branch 1 halves it
    # (a one-element chain of conv-BN-ReLU, hence the extra '.0').
    K.conv_bn(e + "transition1.0", w[0], c, 3)
    K.conv_bn(e + "transition1.1.0", w[1], c, 3)
    for stage, nmod in HR48_MODULES.items():
        for m in range(nmod):
            mod = "%sstage%d.%d" % (e, stage, m)
            for b in range(stage):
                for k in range(HR48_BLOCKS):
                    K.basic("%s.branches.%d.%d" % (mod, b, k), w[b])
            for i in range(stage):
                for j in range(stage):
                    f = "%s.fuse_layers.%d.%d" % (mod, i, j)
                    if j > i:
                        K.conv_bn(f, w[i], w[j], 1)
                    for s in range(i - j):  # j < i: chain of stride-2 3x3 convs
                        K.conv_bn("%s.%d" % (f, s), w[i] if s == i - j - 1 else w[j], w[j], 3)
        if stage < 4:  # new half-resolution branch from the last one
            K.conv_bn("%stransition%d.%d.0" % (e, stage, stage), w[stage], w[stage - 1], 3)
    p = HR48_HEAD_PLANES
    for i in range(4):
        K.bottleneck("%sincre_modules.%d.0" % (e, i), w[i], p[i])
    for i in range(3):
        K.conv_bn("%sdownsamp_modules.%d" % (e, i), 4 * p[i + 1], 4 * p[i], 3, bias=True)
    K.conv_bn(e + "final_layer", FEAT, 4 * p[3], 1, bias=True)


def _res50_encoder(K: _Keys, e: str) -> None:
    K.conv(e + "conv1", 64, 3, 7)
    K.bn(e + "bn1", 64)
    c = 64
    for li, (planes, blocks) in enumerate(RES50_LAYERS, 1):
        for k in range(blocks):
            c = K.bottleneck("%slayer%d.%d" % (e, li, k), c, planes,
                             stride=2 if (k == 0 and li > 1) else 1)


def expected_keys(backbone: str) -> Dict[str, Shape]:
    """All checkpoint keys of ``backbone`` ('hr48' or 'res50') -> shape, in state_dict order.

    BatchNorm ``num_batches_tracked`` entries have shape ``()`` (int64); all others are
    float32. HR48 has 1967 keys, Res50 331.
    """
    if backbone not in BACKBONES:
        raise ValueError("backbone: expected 'hr48' or 'res50', got %r" % (backbone,))
    K = _Keys()
    K.d["init_pose"] = (1, NPOSE)
    K.d["init_shape"] = (1, NSHAPE)
    K.d["init_cam"] = (1, NCAM)
    (_hr48_encoder if backbone == "hr48" else _res50_encoder)(K, "encoder.")
    K.linear("fc1", HIDDEN, FEAT + NBBOX + NPOSE + NSHAPE + NCAM)
    K.linear("fc2", HIDDEN, HIDDEN)
    K.linear("decpose", NPOSE, HIDDEN)
    K.linear("decshape", NSHAPE, HIDDEN)
    K.linear("deccam", NCAM, HIDDEN)
    return K.d


def detect_backbone(keys: Iterable[str]) -> str:
    """'hr48' or 'res50' from checkpoint keys (a leading 'module.' is ignored).

    Raises ValueError when the keys belong to neither (e.g. no 'encoder.' keys).
    """
    names = set()
    for k in keys:
        if not isinstance(k, str):
            raise TypeError("keys: expected str keys, got %s" % type(k).__name__)
        names.add(k[7:] if k.startswith("module.") else k)
    if "encoder.stage4.0.fuse_layers.0.1.0.weight" in names or "encoder.final_layer.0.weight" in names:
        return "hr48"
    if "encoder.layer4.0.conv1.weight" in names and "encoder.conv1.weight" in names:
        return "res50"
    sample = sorted(names)[:3]
    raise ValueError("keys: not a CLIFF HR48 or Res50 checkpoint (%d keys, e.g. %s)"
                     % (len(names), sample))


# ---- random weights -------------------------------------------------------------------------
