"""Official CLIFF preprocessing: person boxes -> normalised 256x192 network inputs (C core);
BEDLAM's 224x224 square crop for its families (``family=``)."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core
from .constants import BOX_RESCALE, CROP_HEIGHT, CROP_WIDTH, IMAGENET_MEAN, IMAGENET_STD

__all__ = ["crop", "CROP_HEIGHT", "CROP_WIDTH", "IMAGENET_MEAN", "IMAGENET_STD"]


def crop(
    image: npt.ArrayLike,
    xyxy: npt.ArrayLike,
    rescale: float | None = None,
    *,
    bgr: bool = False,
    layout: Literal["nchw", "nhwc"] = "nchw",
    resize: Literal["ipp", "opencv", "skimage"] | None = None,
    family: str = "cliff-hr48",
) -> dict[str, Any]:
    """Crop and normalise person boxes exactly as the official CLIFF demo does.

    .. warning:: **Colour order.** ``image`` is taken as **RGB** (e.g. from Pillow or
       imageio). ``cv2.imread`` returns **BGR**: pass ``bgr=True`` (or ``img[..., ::-1]``).
       Passing BGR as RGB swaps red and blue in the network input and silently degrades the
       predictions.

    Steps (the official ``process_image``, reproduced to float32 rounding):

    1. centre = box centre, box_size = max(4/3 * width, height) (padding to 3:4),
       scale = box_size / 200 * rescale (the crop is 200*scale pixels high, 150*scale wide);
    2. the official affine window: corners rounded half to even on the same float64 values as
       the official NumPy code; pixels outside the image are 0 (black);
    3. OpenCV's float32 ``INTER_LINEAR`` resize of the window to 192x256 (its own code:
       same-size copy, exact-2x INTER_AREA mean, border clamping; or, with
       ``resize="ipp"``, what OpenCV builds with Intel IPP compute, see below);
    4. ImageNet normalisation in RGB: ``(v / 255 - mean) / std`` in float32.

    The window is never materialised: each output pixel is read from ``image`` directly.
    Runs in C on ``cliff.get_num_threads()`` threads with the GIL released.

    Args:
        image: (H, W, 3) uint8, **RGB** unless ``bgr=True``. Any array-like (non-contiguous
            views, torch CPU tensors) is accepted.
        xyxy: (N, 4) or (4,) person boxes ``[x1, y1, x2, y2]`` in pixels (x2 >= x1,
            y2 >= y1, finite). A (4,) box gives N = 1.
        rescale: box enlargement factor; default: the family's (the official demo uses 1.1,
            BEDLAM's demo 1.0: its tracker boxes are used as they are; mmhuman3d 1.2, its
            converters' enlargement of a tight box).
        bgr: the image is in BGR order (OpenCV); channels are swapped while cropping.
        layout: ``"nchw"`` -> crops (N, 3, 256, 192), the official network input;
            ``"nhwc"`` -> (N, 256, 192, 3), the same values channel-last (for consumers
            that want NHWC; ``Model.predict`` takes float crops as NCHW only).
        resize: default (None): the family's release's own: ``"ipp"`` for the CLIFF
            families, ``"skimage"`` for BEDLAM's.
            ``"ipp"`` -> what ``cv2.resize`` computes in OpenCV builds with
            Intel IPP, i.e. every PyPI wheel on x86 (including the 4.x the official demo
            used), so the default reproduces the official demo's actual numbers: float64
            coordinates and fused interpolation;
            ``"opencv"`` -> OpenCV's own INTER_LINEAR code (float32 source coordinates, as
            docs/official.md#crop describes), what ``cv2.resize`` computes without IPP (e.g. on ARM). The two differ by ~1e-4 per normalised
            value at most on hard edges of large boxes (2e-4 for a 2000-pixel box on random
            noise, ~5e-6 on photos).
            ``"skimage"`` -> scikit-image's ``transform.resize`` with its defaults, as BEDLAM's
            demo calls it: a Gaussian anti-aliasing filter when the window shrinks, then
            bilinear sampling with mirrored borders (docs/crop.md#bedlam-resize; equal to
            scikit-image within 1e-4 per normalised value).
        family: whose demo crop to reproduce (:mod:`cliff.families`): the CLIFF families
            (official, mmhuman3d) take the steps above; ``"bedlam-cliff"`` / ``"bedlam-cliff-x"``
            take BEDLAM's: the tracker's square box (centre ``x1 + w/2, y1 + h/2``, side
            ``max(w, h) * rescale``), the SPIN-style square window (corners truncated toward
            zero), the resize to 224 x 224 and the same normalisation (docs/crop.md#bedlam);
            ``"mmhuman3d-res50"`` takes mmhuman3d's test pipeline: the same square box (side
            ``max(w, h) * rescale``, default 1.2 as its dataset converters enlarge boxes), the
            affine warp of ``MeshAffine`` (OpenCV 4.x ``warpAffine``, uint8, bilinear in 1/32
            pixel steps) to 256 x 192 and the normalisation; ``resize`` is not used
            (docs/crop.md#mmhuman3d).

    Returns:
        dict with
        ``crops`` float32 (N, 3, 256, 192) (or (N, 256, 192, 3)), normalised;
        ``boxes`` float32 (N, 3) ``[cx, cy, b]`` pixels with b = 200*scale the crop height,
        exactly the float32 values the official demo feeds its ``bbox_info``;
        ``center`` float64 (N, 2) pixels; ``scale`` float64 (N,).

    Raises:
        TypeError: ``image`` is not uint8, ``xyxy``/``rescale`` are not real numbers.
        ValueError: wrong shapes, empty image, non-finite or inverted boxes, a box whose crop
            window is empty (the official code fails on it too) or larger than 2^24 pixels.
    """
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"layout: expected 'nchw' or 'nhwc', got {layout!r}")
    from .families import family as get_family
    fam = get_family(family)
    if resize is None:
        resize = "skimage" if fam.crop_window == "square" else "ipp"
    if resize not in _RESIZE:
        raise ValueError(f"resize: expected 'ipp', 'opencv' or 'skimage', got {resize!r}")
    if rescale is None:
        rescale = fam.box_rescale
    if isinstance(rescale, (bool, np.bool_)) or not isinstance(rescale, (int, float, np.number)):
        raise TypeError(f"rescale: expected a number, got {type(rescale).__name__}")
    square = fam.crop[0] if fam.crop_window == "square" else 0
    return _core.crop(image, xyxy, float(rescale), bgr=bool(bgr), nhwc=layout == "nhwc",
                      square=square, resize=_RESIZE[resize], affine=fam.crop_window == "affine")


#: cliff_resize values of the core (csrc/cliff.h)
_RESIZE = {"opencv": 0, "ipp": 1, "skimage": 2}
