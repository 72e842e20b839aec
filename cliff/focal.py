"""A learned focal length: CameraHMR's HumanFoV on the full image (docs/focal.md).

    fe = cliff.FocalEstimator("cam_model_cleaned.ckpt")
    focal = fe.predict([img1, img2])            # (2,) pixels, one per image
    vfov, focal = fe.predict_fov(img1)          # radians, pixels

HumanFoV letterboxes the whole photo to 256 x 256 (OpenCV INTER_AREA, white padding), runs an
HRNet-W48 with a 720-channel neck, averages it and maps the 720 numbers linearly to the vertical
field of view; focal = H / (2 tan(vfov / 2)) pixels, one per image. The preprocessing and the
network run in the C core, one call per batch of images, the GIL released.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from . import _core

__all__ = ["FocalEstimator", "fov_keys", "is_fov_checkpoint", "FOV_SIZE"]

FOV_SIZE = 256
Shape = Tuple[int, ...]


@functools.lru_cache(maxsize=None)
def _keys() -> tuple:
    return tuple((name, tuple(shape)) for name, shape, _ in _core.fov_arch_keys())


def fov_keys() -> Dict[str, Shape]:
    """Every key of the release's ``cam_model_cleaned.ckpt`` ``'state_dict'`` -> its shape, in
    PyTorch ``state_dict()`` order, from the core's layer table (``backbone.*`` with the unused
    ``backbone.final_layer``, ``fc1``, ``fc2`` (unused), ``fc3``)."""
    return dict(_keys())


def is_fov_checkpoint(keys) -> bool:
    """True when ``keys`` are exactly HumanFoV's (a leading ``module.`` ignored)."""
    names = {k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in keys}
    return names == set(fov_keys())


def _check_keys(keys, what: str) -> None:
    names = [k for k in keys]
    for k in names:
        if not isinstance(k, str):
            raise TypeError(f"{what}: expected str keys, got {type(k).__name__}")
    have, want = set(names), set(fov_keys())
    if have == want:
        return
    missing = [k for k in fov_keys() if k not in have]
    unexpected = [k for k in names if k not in want]
    hint = ""
    if any(k.startswith(("encoder.", "model.", "head.", "init_pose", "backbone.incre")) for k in unexpected):
        hint = " (it looks like a CLIFF network checkpoint: pass it as ckpt, not fov_ckpt)"
    raise ValueError(
        f"{what}: not a CameraHMR HumanFoV checkpoint (cam_model_cleaned.ckpt){hint}: "
        f"{len(missing)} keys missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
        f"(first: {unexpected[:3]})")


def _as_images(images: Any) -> list:
    from .pipeline import _as_image
    if isinstance(images, np.ndarray) and images.ndim == 3:
        return [_as_image(images)]
    if isinstance(images, (list, tuple)):
        out = []
        for i, im in enumerate(images):
            try:
                out.append(_as_image(im))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"images[{i}]: {exc}") from None
        return out
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [_as_image(im) for im in images]
    raise TypeError("images: expected an (H, W, 3) uint8 RGB image or a list of them, got "
                    f"{type(images).__name__}")


class FocalEstimator:
    """HumanFoV from CameraHMR's ``cam_model_cleaned.ckpt`` (a path or a state dict).

    Thread-safe (execution is serialized inside, the GIL released). ``threads``: this
    estimator's thread count (None: the process-wide count). Use as a context manager or call
    :meth:`close` to free the weights early.
    """

    def __init__(self, fov_ckpt: Union[str, os.PathLike, Mapping[str, Any]], *,
                 precision: str = "fp32", threads: Optional[int] = None):
        from ._threads import check_threads
        nthreads = check_threads(threads)
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision: expected 'fp32' or 'bf16', got {precision!r}")
        if isinstance(fov_ckpt, Mapping):
            state, what = dict(fov_ckpt), "fov_ckpt"
        elif isinstance(fov_ckpt, (str, os.PathLike)):
            from .io import load_checkpoint
            state, what = load_checkpoint(fov_ckpt), f"fov_ckpt {os.fspath(fov_ckpt)!r}"
        else:
            raise TypeError("fov_ckpt: expected a path to cam_model_cleaned.ckpt or a state dict, "
                            f"got {type(fov_ckpt).__name__}")
        if any(isinstance(k, str) and k.startswith("module.") for k in state):
            state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
        _check_keys(state.keys(), what)
        names = list(state)
        self._cap = _core.fov_open(precision, names, [np.asarray(state[k]) for k in names])
        self.precision = precision
        if nthreads:
            _core.fov_threads(self._cap, nthreads)

    # ---- inference ----------------------------------------------------------------------
    def predict_fov(self, images: Any, *, bgr: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """images: one (H, W, 3) uint8 RGB image or a list of them (sizes may differ; bgr=True
        for OpenCV's order). Returns (vfov (N,) radians, focal (N,) pixels) float32: the
        vertical field of view HumanFoV predicts and H / (2 tan(vfov / 2)) for each image's H."""
        imgs = _as_images(images)
        return _core.fov_predict(self._cap, imgs, bool(bgr))

    def predict(self, images: Any, *, bgr: bool = False) -> np.ndarray:
        """(N,) float32 focal lengths in pixels, one per image (see :meth:`predict_fov`)."""
        return self.predict_fov(images, bgr=bgr)[1]

    def run(self, inputs: Any) -> Tuple[np.ndarray, np.ndarray]:
        """The network alone on prepared inputs (N, 256, 256, 3) float32 (as
        :func:`preprocess` makes them) -> (raw (N, 2), pooled features (N, 720)); raw[:, 1] is
        the vertical field of view in radians (raw[:, 0] is not used by the release)."""
        return _core.fov_run(self._cap, inputs)

    @staticmethod
    def preprocess(images: Any, *, bgr: bool = False) -> np.ndarray:
        """The release's input: (N, 256, 256, 3) float32, RGB, ImageNet-normalised."""
        return _core.fov_preprocess(_as_images(images), bool(bgr))

    @staticmethod
    def letterbox(image: Any) -> np.ndarray:
        """The release's resize_image: (256, 256, 3) uint8, channels kept in order."""
        from .pipeline import _as_image
        return _core.fov_letterbox(_as_image(image))

    # ---- resources ----------------------------------------------------------------------
    @property
    def threads(self) -> int:
        return _core.fov_threads(self._cap)

    @threads.setter
    def threads(self, n: Optional[int]) -> None:
        from ._threads import check_threads
        _core.fov_threads(self._cap, check_threads(n))

    @property
    def weight_bytes(self) -> int:
        return _core.fov_weight_bytes(self._cap)

    def close(self) -> None:
        _core.fov_close(self._cap)

    def __enter__(self) -> "FocalEstimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FocalEstimator(HumanFoV, precision={self.precision!r})"
