"""The official demo's person detector: YOLOv3 (darknet ``yolov3.weights``) in the C core.

>>> det = cliff.detect.load_detector("yolov3.weights")          # or CLIFF_HOME/ckpt/yolov3.weights
>>> rows = det.detect([img_rgb_a, img_rgb_b])                    # (N, 8) float32
>>> rows[:, 0]        # image index; rows[:, 1:5] x1, y1, x2, y2 px; objectness, class score, class

The network (yolov3.cfg: darknet-53 backbone, three YOLO heads) runs on oneDNN, BatchNorm
folded at load, fp32 or bf16. Preprocessing and post-processing are the demo's: letterbox to
416x416 with OpenCV's 8-bit bicubic resize, objectness > 0.5, per-class NMS at IoU 0.4 in the
demo's order, boxes mapped back to the image and clamped, class 0 (person) kept. The rows are
the demo's ``detection_all``. Facts and sources: docs/detect.md.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .. import _core

INPUT_SIZE = 416
HEAD_GRIDS = (13, 26, 52)  # strides 32, 16, 8
WEIGHTS_NAME = "yolov3.weights"
#: yolov3.cfg anchors (w, h) in input pixels; head k (grid 13 << k) uses anchors[6-3k : 9-3k].
ANCHORS = ((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326))


def yolov3_convs() -> list[tuple[int, int, int, int, bool]]:
    """The 75 convolutions of yolov3.cfg in file order: (out_ch, in_ch, kernel, stride, batchnorm).
    Batch-normalised convs use leaky ReLU 0.1; the three head convs (255 outputs) have a bias
    and no activation."""
    convs: list[tuple[int, int, int, int, bool]] = [(32, 3, 3, 1, True)]
    c_prev = 32
    for s, reps in enumerate((1, 2, 8, 8, 4)):
        c = 64 << s
        convs.append((c, c_prev, 3, 2, True))
        for _ in range(reps):
            convs += [(c // 2, c, 1, 1, True), (c, c // 2, 3, 1, True)]
        c_prev = c
    c_in = 1024
    for h in range(3):
        c = 512 >> h
        convs += [(c, c_in, 1, 1, True), (2 * c, c, 3, 1, True), (c, 2 * c, 1, 1, True),
                  (2 * c, c, 3, 1, True), (c, 2 * c, 1, 1, True), (2 * c, c, 3, 1, True),
                  (255, 2 * c, 1, 1, False)]
        if h < 2:
            convs.append((c // 2, c, 1, 1, True))
            c_in = c // 2 + (512 if h == 0 else 256)
    return convs


def weights_size() -> int:
    """Bytes of a yolov3.weights file: a 20-byte header and the float32 values."""
    n = sum((4 * o if bn else o) + o * i * k * k for o, i, k, _, bn in yolov3_convs())
    return 20 + 4 * n


def default_weights() -> str | None:
    """CLIFF_HOME/ckpt/yolov3.weights when it exists (the official data/ layout), else None."""
    from ..files import home_ckpt
    return home_ckpt(WEIGHTS_NAME)


def _threshold(value: Any, name: str, lo_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    ok = (0.0 < v <= 1.0) if lo_open else (0.0 <= v < 1.0)
    if not ok:
        raise ValueError(f"{name}: expected a value in {'(0, 1]' if lo_open else '[0, 1)'}, got {value!r}")
    return v


def _max_people(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"max_people: expected a positive integer or None, got {value!r}")
    return int(value)


def _image(img: Any, i: int) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise TypeError(f"images[{i}]: expected uint8 RGB pixels, got dtype {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"images[{i}]: expected shape (H, W, 3), got {a.shape}")
    return np.ascontiguousarray(a)


class Detector:
    """A loaded YOLOv3 person detector (thread-safe: calls are serialized in the core)."""

    def __init__(self, path: str | os.PathLike, *, precision: str = "fp32",
                 threshold: float = 0.5, nms_iou: float = 0.4, max_people: int | None = None):
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision: expected 'fp32' or 'bf16', got {precision!r}")
        self.threshold = _threshold(threshold, "threshold", False)
        self.nms_iou = _threshold(nms_iou, "nms_iou", True)
        self.max_people = _max_people(max_people)
        self.path = os.fspath(path)
        self.precision = precision
        self._cap = _core.yolo_open(self.path, precision)

    def detect(self, images: Any, *, threshold: float | None = None, max_people: int | None = None,
               all_classes: bool = False, bgr: bool = False) -> np.ndarray:
        """detection_all for a list of images (or one (H, W, 3) image).

        images: (H, W, 3) uint8 RGB arrays (bgr=True for OpenCV's order); run in batches of 8.
        Returns (N, 8) float32 rows [image index, x1, y1, x2, y2, objectness, class score,
        class]: pixels of each image; persons only unless all_classes.
        """
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        if not isinstance(images, (list, tuple)) and not (isinstance(images, np.ndarray) and images.ndim == 4):
            raise TypeError(f"images: expected a list of (H, W, 3) uint8 arrays, got {type(images).__name__}")
        imgs = [_image(im, i) for i, im in enumerate(images)]
        if bgr:
            imgs = [np.ascontiguousarray(im[..., ::-1]) for im in imgs]
        thr = self.threshold if threshold is None else _threshold(threshold, "threshold", False)
        mp = self.max_people if max_people is None else _max_people(max_people)
        return _core.yolo_detect(self._cap, imgs, thr, self.nms_iou, bool(all_classes), mp)

    def heads(self, inputs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw head outputs for network inputs (n, 416, 416, 3) float32 RGB in [0, 1]:
        (n, 13, 13, 255), (n, 26, 26, 255), (n, 52, 52, 255), channel a*85 + k."""
        return _core.yolo_heads(self._cap, np.ascontiguousarray(inputs, dtype=np.float32))

    @property
    def weight_bytes(self) -> int:
        """Bytes of the packed network weights."""
        return _core.yolo_weight_bytes(self._cap)

    def close(self) -> None:
        _core.yolo_close(self._cap)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_detector(path: str | os.PathLike | None = None, **kwargs: Any) -> Detector:
    """Detector from darknet weights; path None looks in CLIFF_HOME/ckpt/yolov3.weights.
    Raises FileNotFoundError naming the places looked at, OSError for a wrong-size file."""
    if path is None:
        path = default_weights()
        if path is None:
            home = os.environ.get("CLIFF_HOME")
            where = (f"$CLIFF_HOME/ckpt/{WEIGHTS_NAME} ({os.path.join(home, 'ckpt', WEIGHTS_NAME)})"
                     if home else "CLIFF_HOME (not set)")
            raise FileNotFoundError(
                f"YOLOv3 weights not found: looked in {where}; pass the path of the official "
                f"darknet {WEIGHTS_NAME} (the file the CLIFF README puts in data/ckpt/)")
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p}: no such file (YOLOv3 darknet weights expected)")
    return Detector(p, **kwargs)


def letterbox(image: Any, size: int = INPUT_SIZE) -> np.ndarray:
    """The demo's letterbox of one (H, W, 3) uint8 image -> (size, size, 3) uint8 (channels
    kept in order; grey 128 padding)."""
    return _core.yolo_letterbox(_image(image, 0), int(size))


def network_input(images: Sequence[Any]) -> np.ndarray:
    """(n, 416, 416, 3) float32 network input for RGB images: letterbox, then /255."""
    return np.stack([letterbox(im).astype(np.float64) / 255.0 for im in images]).astype(np.float32)


def postprocess(heads: Sequence[np.ndarray], sizes: Any, *, threshold: float = 0.5,
                nms_iou: float = 0.4, all_classes: bool = False, max_people: int | None = None) -> np.ndarray:
    """The demo's post-processing of raw head outputs (as Detector.heads gives them) for
    images of sizes (n, 2) [height, width] pixels -> detection_all rows (N, 8) float32."""
    h13, h26, h52 = heads
    return _core.yolo_postprocess(h13, h26, h52, np.asarray(sizes, dtype=np.int64).reshape(-1, 2),
                                  _threshold(threshold, "threshold", False),
                                  _threshold(nms_iou, "nms_iou", True), bool(all_classes), _max_people(max_people))
