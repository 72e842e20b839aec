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

__all__ = ["BACKBONES", "expected_keys", "detect_backbone", "random_state_dict",
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

def _feeds_sum(name: str) -> bool:
    """Convs whose (BN'd) output is added to another tensor: residual branches and HRNet fuse
    terms. They are scaled down so that the sums stay O(1) through all modules."""
    if name.endswith(".conv3.weight") or (".branches." in name and name.endswith(".conv2.weight")):
        return True
    if ".downsamp_modules." in name:
        return True
    parts = name.split(".")
    if "fuse_layers" in parts:  # fuse_layers.i.j.0.weight (j > i) or fuse_layers.i.j.s.0.weight
        at = parts.index("fuse_layers")
        i, j = int(parts[at + 1]), int(parts[at + 2])
        return j > i or int(parts[at + 3]) == i - j - 1
    return False


def _small_rotations_6d(rng: np.random.Generator, n: int, max_angle: float) -> np.ndarray:
    """(n,6) 6D vectors (row-major first two columns) of rotations up to max_angle radians."""
    axis = rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = rng.uniform(0.05, max_angle, n)[:, None, None]
    kx = np.zeros((n, 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    kx -= kx.transpose(0, 2, 1)
    R = np.eye(3) + np.sin(ang) * kx + (1 - np.cos(ang)) * (kx @ kx)
    return R[:, :, :2].reshape(n, 6)


def random_state_dict(backbone: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Deterministic random weights for ``backbone`` with every key of :func:`expected_keys`.

    - conv weights: He-normal (std sqrt(2/fan_in)) times 0.8, times a further 0.3 for convs
      that feed a sum (residual branches, HRNet fuse terms, head), so activations stay O(1)
      through all layers of both networks (feature std ~1 for a N(0,1) input); conv biases
      N(0, 0.02);
    - BatchNorm: gamma 1 +- 0.2, beta N(0, 0.05), running_mean N(0, 0.1),
      running_var U(0.5, 2), num_batches_tracked = 1000 (int64, unused at inference);
    - regressor: fc1, fc2 ~ N(0, 1/fan_in); decoders scaled so one iteration moves the 6D pose
      by ~0.03, the shape by ~0.05 and the camera by ~0.01 (three iterations stay finite and the
      rotations well conditioned);
    - init_pose: the official mean root 6D, then 23 small rotations (<= 0.4 rad);
      init_shape, init_cam: the official mean shape and camera.

    Returns float32 arrays (int64 for num_batches_tracked), in state_dict order.
    """
    keys = expected_keys(backbone)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError("seed: expected a non-negative int, got %r" % (seed,))
    rng = np.random.default_rng([int(seed), 0 if backbone == "hr48" else 1])
    dec_scale = {"decpose": 0.03, "decshape": 0.05, "deccam": 0.01}
    out: Dict[str, np.ndarray] = {}
    for name, shape in keys.items():
        leaf = name.rsplit(".", 1)[-1]
        owner = name[: -len(leaf) - 1]
        if name == "init_pose":
            pose = _small_rotations_6d(rng, NPOSE // 6, 0.4)
            pose[0] = MEAN_ROOT_6D
            a = pose.reshape(1, NPOSE)
        elif name == "init_shape":
            a = np.array(MEAN_SHAPE).reshape(1, NSHAPE)
        elif name == "init_cam":
            a = np.array(MEAN_CAM).reshape(1, NCAM)
        elif leaf == "num_batches_tracked":
            out[name] = np.array(1000, dtype=np.int64)
            continue
        elif len(shape) == 4:  # conv weight [out, in, k, k]
            fan_in = shape[1] * shape[2] * shape[3]
            gain = 0.8 * (0.3 if _feeds_sum(name) else 1.0)
            a = rng.standard_normal(shape) * (gain * np.sqrt(2.0 / fan_in))
        elif owner + ".running_mean" in keys:  # BatchNorm vectors
            a = {"weight": lambda: 1 + rng.uniform(-0.2, 0.2, shape),
                 "bias": lambda: 0.05 * rng.standard_normal(shape),
                 "running_mean": lambda: 0.1 * rng.standard_normal(shape),
                 "running_var": lambda: rng.uniform(0.5, 2.0, shape)}[leaf]()
        elif len(keys.get(owner + ".weight", ())) == 4:  # conv bias
            a = 0.02 * rng.standard_normal(shape)
        elif leaf == "weight":  # Linear [out, in]
            a = rng.standard_normal(shape) * (dec_scale.get(owner, 1.0) / np.sqrt(shape[1]))
        else:  # Linear bias
            a = 0.01 * dec_scale.get(owner, 1.0) * rng.standard_normal(shape)
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out
