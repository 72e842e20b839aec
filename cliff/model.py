"""CLIFF networks (HRNet-W48 or ResNet-50 encoder + iterative regressor) on oneDNN.

    model = cliff.load_model("hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt")
    out = model.predict(crops, boxes, img_size)      # dict of NumPy arrays

Units: pixels for boxes, image sizes and focal lengths; metres for the translation. Camera
frame: OpenCV (x right, y down, z forward).
"""
from __future__ import annotations

import functools
import os
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _core
from .camera import estimate_focal_length
from .constants import BACKBONES, CROP_HEIGHT as CROP_H, CROP_WIDTH as CROP_W

__all__ = ["Model", "load_model", "detect_backbone", "expected_keys", "BACKBONES", "NETWORKS"]

Shape = Tuple[int, ...]


@functools.lru_cache(maxsize=None)
def _arch_keys(backbone: str) -> tuple:
    return tuple((name, shape) for name, shape, _ in _core.net_arch_keys(backbone))


#: Every network the core builds by name: the official backbones, the other families (see
#: cliff.families) and the bare 720-neck HRNet-W48 trunk ("hr48_720").
NETWORKS: tuple = BACKBONES + tuple(f["backbone"] for f in _core.families()
                                    if f["backbone"] not in BACKBONES) + ("hr48_720",)


def expected_keys(backbone: str) -> Dict[str, Shape]:
    """Every checkpoint key of ``backbone`` ('hr48' or 'res50') -> its shape, in PyTorch
    ``state_dict()`` order (after any ``module.`` prefix is stripped), read from the core's layer
    tables (the keys ``load_model`` requires). BatchNorm ``num_batches_tracked`` entries have
    shape ``()`` (int64); all others are float32. HR48 has 1967 keys, Res50 331.
    """
    if not isinstance(backbone, str):
        raise TypeError(f"backbone: expected a str, got {type(backbone).__name__}")
    if backbone not in NETWORKS:
        raise ValueError(f"backbone: expected one of {NETWORKS}, got {backbone!r}")
    return dict(_arch_keys(backbone))


@functools.lru_cache(maxsize=None)
def _distinctive_keys() -> Dict[str, frozenset]:
    """Per backbone, the keys that no other backbone has."""
    sets = {b: frozenset(k for k, _ in _arch_keys(b)) for b in BACKBONES}
    return {b: s - frozenset().union(*(o for c, o in sets.items() if c != b))
            for b, s in sets.items()}


def detect_backbone(keys: Iterable[str]) -> str:
    """'hr48' or 'res50' from checkpoint keys (a leading 'module.' is ignored): the backbone with
    the most keys that belong to it alone (its encoder keys the other backbone lacks).

    Raises ValueError when the keys hold none of those (e.g. no 'encoder.' keys), TypeError for
    a non-str key.
    """
    names = set()
    for k in keys:
        if not isinstance(k, str):
            raise TypeError("keys: expected str keys, got %s" % type(k).__name__)
        names.add(k[7:] if k.startswith("module.") else k)
    hits = {b: len(names & own) for b, own in _distinctive_keys().items()}
    best = max(hits, key=hits.get)
    if hits[best] == 0:
        sample = sorted(names)[:3]
        raise ValueError("keys: not a CLIFF HR48 or Res50 checkpoint (%d keys, e.g. %s)"
                         % (len(names), sample))
    return best



def _learnable(name: str) -> bool:
    return not (name.endswith("running_mean") or name.endswith("running_var")
                or name.endswith("num_batches_tracked") or name.startswith("init_"))


class Model:
    """A loaded CLIFF network. Create with :func:`load_model` or :meth:`from_state_dict`.

    Thread-safe: several Python threads may call one model; execution is serialized inside
    (the GIL is released), results equal serial calls. Use as a context manager or call
    :meth:`close` to free the weights early; any call after closing raises ValueError.
    """

    def __init__(self, core, backbone: str, precision: str, num_params: int):
        from .families import family
        self._core = core
        self.backbone = backbone
        self.precision = precision
        self.num_params = num_params
        #: the network's family (cliff.families.Family): crop, bbox_info form, head sizes, body
        self.family = family(backbone)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray], backbone: Optional[str] = None,
                        precision: str = "fp32", *, consume: bool = False,
                        threads: Optional[int] = None, conv: Optional[str] = None,
                        streams: Union[None, int, str] = None) -> "Model":
        """Build from a state dict with the official keys ('module.' prefixes are removed).
        The key set must equal the architecture's exactly. With consume=True the dict is
        emptied and each array is dropped as soon as it is packed (peak memory ~ one copy of
        the weights). threads: this model's thread count (see :attr:`threads`). conv: how the
        stride-1 3x3 float32 convolutions run, see :func:`load_model`. streams: batch split
        across thread groups, see :func:`load_model`."""
        from ._threads import check_threads
        nthreads = check_threads(threads)
        _check_conv(conv)
        nstreams = _streams_value(streams)
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision: expected 'fp32' or 'bf16', got {precision!r}")
        src = state
        if any(isinstance(k, str) and k.startswith("module.") for k in src):  # as the demo does
            state = {(k.replace("module.", "") if isinstance(k, str) else k): v for k, v in src.items()}
        else:
            state = dict(src)
        if consume and isinstance(src, dict):
            src.clear()
        from .families import FAMILIES, detect_family, select_state
        try:
            detected = detect_backbone(state.keys())
        except ValueError as exc:
            # not an official CLIFF layout: one of the other families (cliff.families)
            try:
                fam = detect_family(state)
            except ValueError as exc2:
                raise ValueError(f"checkpoint: {exc2}") from None
            if backbone is not None and backbone not in (fam.name, fam.backbone):
                known = tuple(f.name for f in FAMILIES)
                raise ValueError(f"checkpoint holds a {fam.name} network but backbone={backbone!r} "
                                 f"was requested (families: {known})") from None
            state = select_state(state, fam)[0]
            backbone = detected = fam.backbone
            del exc
        if backbone is None:
            backbone = detected
        elif backbone not in NETWORKS:
            raise ValueError(f"backbone: expected one of {BACKBONES} or None, got {backbone!r}")
        elif backbone != detected:
            raise ValueError(
                f"checkpoint holds a CLIFF {detected} network but backbone={backbone!r} was "
                f"requested")
        names = list(state.keys())
        arrays = [np.asarray(state[k]) for k in names]
        num_params = int(sum(a.size for k, a in zip(names, arrays) if _learnable(k)))
        if consume:
            state.clear()
        core = _core.Model(backbone, precision, names, arrays, consume, conv, nstreams)
        if nthreads:
            core.threads = nthreads
        return cls(core, backbone, precision, num_params)

    # ---- inference ----------------------------------------------------------------------
    def _crops(self, crops) -> np.ndarray:
        CROP_H, CROP_W = self.family.crop
        a = np.asarray(crops)
        if a.ndim != 4:
            raise ValueError(
                f"crops: expected (N, 3, {CROP_H}, {CROP_W}) float32 or (N, {CROP_H}, {CROP_W}, 3) "
                f"uint8, got shape {a.shape}")
        if a.dtype == np.uint8:
            if a.shape[1:] != (CROP_H, CROP_W, 3):
                raise ValueError(f"crops: uint8 crops must be (N, {CROP_H}, {CROP_W}, 3) RGB "
                                 f"({CROP_H}x{CROP_W}, height x width), got shape {a.shape}")
            return a
        if a.dtype.kind not in "fiu":
            raise TypeError(f"crops: expected float32 or uint8 crops, got dtype {a.dtype}")
        if a.shape[1:] != (3, CROP_H, CROP_W):
            raise ValueError(f"crops: expected (N, 3, {CROP_H}, {CROP_W}) normalized float32 "
                             f"({CROP_H}x{CROP_W}, height x width), got shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ValueError("crops: contains NaN or infinite values")
        return a

    def predict(self, crops, boxes, img_size, focal=None, n_iter: int = 3) -> Dict[str, np.ndarray]:
        """Run encoder and regressor.

        crops: (N, 3, 256, 192) float32 normalized ((x/255 - mean)/std, ImageNet mean/std, RGB)
            or (N, 256, 192, 3) uint8 RGB (normalized inside); other families: their crop
            size (``self.family.crop``, e.g. 224 x 224 for BEDLAM-CLIFF).
        boxes: (N, 3) = [cx, cy, b] in full-image pixels (b = 200*scale, the crop height), b > 0.
        img_size: (N, 2) or (2,) = (W, H) pixels, > 0.
        focal: (N,) or scalar pixels, > 0; default sqrt(W^2 + H^2).
        n_iter: regressor iterations (3 in the official demo).

        Returns float32 arrays: rotmat (N,24,3,3), pose (N,72) axis-angle (radians, joint-major),
        betas (N,10), cam_crop (N,3) = (s, tx, ty), t_full (N,3) metres (SMPL translation in the
        full-image camera), bbox_info (N,3), focal (N,), features (N,2048). Other families
        (cliff.families): J = family.joints rotations (22 for SMPL-X bodies), family.betas
        betas, family.features features, bbox_info in the family's form.
        """
        self._check_open()
        crops = self._crops(crops)
        n = crops.shape[0]
        boxes = _finite(boxes, "boxes")
        if boxes.shape != (n, 3):
            raise ValueError(f"boxes: expected shape ({n}, 3) = [cx, cy, b] for {n} crops, "
                             f"got {boxes.shape}")
        if (boxes[:, 2] <= 0).any():
            raise ValueError("boxes: the box size b (column 2) must be > 0")
        size = _finite(img_size, "img_size")
        if size.shape == (2,):
            size = np.broadcast_to(size, (n, 2))
        if size.shape != (n, 2):
            raise ValueError(f"img_size: expected (2,) or ({n}, 2) = (W, H), got {size.shape}")
        if (size <= 0).any():
            raise ValueError("img_size: width and height must be > 0")
        if focal is None:
            f = estimate_focal_length(size[:, 0], size[:, 1])
        else:
            f = _finite(focal, "focal")
            if f.ndim == 0:
                f = np.broadcast_to(f, (n,))
            if f.shape != (n,):
                raise ValueError(f"focal: expected a scalar or shape ({n},), got {f.shape}")
            if (f <= 0).any():
                raise ValueError("focal: must be > 0")
        if not isinstance(n_iter, (int, np.integer)) or not 0 <= int(n_iter) <= 100:
            raise ValueError(f"n_iter: expected an integer in 0..100, got {n_iter!r}")
        pp = np.ascontiguousarray(size / 2.0, dtype=np.float32)
        return self._core.predict(crops, np.ascontiguousarray(boxes, np.float32), pp,
                                  np.array(f, dtype=np.float32), int(n_iter))

    def features(self, crops) -> np.ndarray:
        """Encoder output: crops as in :meth:`predict` -> (N, 2048) float32."""
        self._check_open()
        return self._core.features(self._crops(crops))

    @property
    def threads(self) -> int:
        """Threads this model's calls use: its own count when set (``threads=`` or assigning
        here), else the process-wide ``cliff.set_num_threads`` count. Assign None/0 to follow
        the process-wide count again. Results do not depend on it."""
        self._check_open()
        return self._core.threads

    @threads.setter
    def threads(self, n: Optional[int]) -> None:
        from ._threads import check_threads
        t = check_threads(n)
        self._check_open()
        self._core.threads = t

    def stream_groups(self, n: int) -> int:
        """Thread groups ("streams") a batch of `n` crops runs each chunk of min(n, 8) crops as,
        at the current :attr:`threads` (1 = not split; see ``streams=`` of :func:`load_model`)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: expected a batch size >= 1, got {n!r}")
        self._check_open()
        return self._core.streams(int(n))

    # ---- introspection ------------------------------------------------------------------
    def branch_streams(self, n: int) -> bool:
        """Whether a batch of `n` crops runs HRNet's parallel branches as concurrent thread
        groups at the current :attr:`threads` (``CLIFF_BRANCH_STREAMS``: auto|off|on, read at
        load; docs/performance.md, "HRNet branches as streams"). Always False for networks
        without branches (ResNet)."""
        self._check_open()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: expected a batch size >= 1, got {n!r}")
        return self._core.branch_streams(int(n))

    def layers(self):
        """[(name, kind, oneDNN implementation)] of the layer table, in execution order."""
        self._check_open()
        return self._core.layers()

    def layer_macs(self) -> List[int]:
        """Multiply-adds per image of each layer of :meth:`layers` (convolutions in their direct
        form, out_c * out_h * out_w * in_c * k * k, whatever algorithm runs them; 0 for pooling
        and upsampling): with :meth:`profile`, each layer's GFLOP/s
        (``2 * n * macs / (ms * 1e6)``), as ``benchmarks/bench_roofline.py`` prints them."""
        self._check_open()
        return self._core.layer_macs()

    def profile(self, n: int = 1, reps: int = 5):
        """Time each primitive alone (wait after each), median of `reps` passes, batch `n`.
        Returns a list of (name, kind, ms). The sum over 'conv' rows is the convolution floor."""
        self._check_open()
        ms = self._core.profile(int(n), int(reps))
        return [(name, kind, t) for (name, kind, _), t in zip(self._core.layers(), ms)]

    def regressor(self) -> Dict[str, np.ndarray]:
        """The collapsed regressor the core built at load, float64 (docs/model.md "Regressor"):
        one iteration is ``s <- s + Mx @ [features, bbox_info] + Ms @ s + c`` from
        ``s = init``. Returns ``{'Mx': (157, 2051), 'Ms': (157, 157), 'c': (157,), 'init':
        (157,)}``, state order [pose6d (144) | betas (10) | cam (3)]."""
        self._check_open()
        return self._core.regressor()

    @property
    def weight_bytes(self) -> int:
        """Bytes held by the packed weights (encoder + collapsed regressor)."""
        self._check_open()
        return self._core.weight_bytes

    @property
    def work_bytes(self) -> int:
        """Bytes of the activation arenas and scratchpads (one per cached batch size)."""
        self._check_open()
        return self._core.work_bytes

    # ---- lifetime -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._core is None or self._core.closed

    def _check_open(self):
        if self.closed:
            raise ValueError("the model is closed")

    def close(self) -> None:
        """Free the network now (also done when the object is collected)."""
        if self._core is not None:
            self._core.close()

    def __enter__(self) -> "Model":
        self._check_open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.num_params:,} parameters"
        return f"<cliff.Model {self.backbone} {self.precision}, {state}>"


def _finite(x, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from None
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


CONV_ALGOS = ("auto", "direct", "winograd2", "winograd4", "timed")


def _streams_value(streams: Union[None, int, str]) -> int:
    """The core's value of cliff_net_params.streams: -1 environment, 0 auto, 1 off, k groups."""
    if streams is None:
        return -1
    if isinstance(streams, str):
        if streams in ("auto", "off"):
            return 0 if streams == "auto" else 1
    elif isinstance(streams, (int, np.integer)) and not isinstance(streams, bool) \
            and 1 <= int(streams) <= STREAMS_MAX:
        return int(streams)
    raise ValueError(f"streams: expected 'auto', 'off', a group count 1..{STREAMS_MAX} or None, "
                     f"got {streams!r}")


#: the most thread groups a batch may be split across (cliff.h CLIFF_STREAMS_MAX = the chunk size)
STREAMS_MAX = 8


def _check_conv(conv: Optional[str]) -> None:
    if conv is not None and conv not in CONV_ALGOS:
        raise ValueError(f"conv: expected one of {CONV_ALGOS} or None, got {conv!r}")


def load_model(path: Union[str, os.PathLike], backbone: Optional[str] = None,
               precision: str = "fp32", *, threads: Optional[int] = None,
               conv: Optional[str] = None, streams: Union[None, int, str] = None) -> Model:
    """Load an official CLIFF checkpoint (.pt: {'model': state_dict, ...}, 'module.' prefixes
    allowed) or a .safetensors/.npz with the same keys.

    backbone: 'hr48', 'res50' or None (detected from the keys; a mismatch raises ValueError).
    precision: 'fp32' (default, matches PyTorch to ~1e-5) or 'bf16' (encoder in bfloat16:
    about 2x faster, ~1e-2 relative drift; see docs/model.md).
    threads: this model's own thread count (None: the process-wide count; see Model.threads).
    conv: how the stride-1 3x3 float32 convolutions run: 'auto' (our Winograd layers where they
    were measured faster than oneDNN's direct convolution, by a fixed rule, so results are the
    same in every process), 'direct', 'winograd2' (F(2x2,3x3) everywhere), 'winograd4'
    (F(4x4,3x3) everywhere) or 'timed' (auto's candidates, each timed at load against direct;
    may differ between processes); None: the CLIFF_CONV
    environment variable, 'auto' when unset (docs/performance.md, "Our Winograd layers").
    streams: batch split across thread groups: 'auto' (a fixed rule: min(crops/2, threads)
    groups of about threads/groups threads each, so from 4 crops and 2 threads), 'off', or k
    (1..8: up to k groups, never more than the crops or the threads); None: the CLIFF_STREAMS
    environment variable, 'auto' when unset. Outputs are bit-identical either way; see
    :meth:`Model.stream_groups` and docs/performance.md, "Streams".
    Raises ValueError when the key set differs from the architecture (listing missing and
    unexpected keys), OSError when the file cannot be read.
    """
    from .io import load_checkpoint
    from ._threads import check_threads

    check_threads(threads)  # before reading the file
    _check_conv(conv)
    _streams_value(streams)

    return Model.from_state_dict(load_checkpoint(path), backbone=backbone, precision=precision,
                                 consume=True, threads=threads, conv=conv, streams=streams)
