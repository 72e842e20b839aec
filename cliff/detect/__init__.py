"""Person boxes for images.

Two detectors:
- ``cliff.detect.yolo``: the official demo's YOLOv3 (darknet ``yolov3.weights``) in the C
  core, many people per image, the demo's ``detection_all`` rows. Used whenever its weights
  are found (an explicit path, or ``$CLIFF_HOME/ckpt/yolov3.weights``).
- MediaPipe (below), optional, one person per image.

``choose()`` picks one (or says which options exist when none is available).

The MediaPipe detector is BlazePose (the pose detector and landmark models bundled in
the `mediapipe==0.10.21` wheel: nothing is downloaded at run time), installed with the
`detect` extra: ``pip install '.[detect]' in a cliff clone``.

Limits, honestly:
- ONE person per image (the most prominent one). For crowds, bring your own boxes
  (xyxy arrays or a COCO-style detections JSON; see cliff.pipeline.load_boxes).
- The box is derived from the 33 landmarks (visible ones), padded; it is tighter than a
  YOLO box around hair and loose clothing, which CLIFF's 1.1 rescale mostly absorbs.
- mediapipe pulls in numpy<2, protobuf and opencv-contrib-python; install it in its own
  environment if that conflicts with yours.
"""
from __future__ import annotations

import numpy as np

_MISSING = ("the built-in person detector needs MediaPipe 0.10.21 "
            "(pip install '.[detect]' in a cliff clone); or pass person boxes (xyxy) yourself")


def available() -> bool:
    """True when the built-in detector can run (mediapipe with its bundled pose models)."""
    try:
        import mediapipe as mp  # noqa: F401
        return hasattr(mp, "solutions") and hasattr(mp.solutions, "pose")
    except Exception:
        return False


def landmarks_to_box(xyv: np.ndarray, width: int, height: int, min_visibility: float = 0.5) -> np.ndarray | None:
    """Person box (x1, y1, x2, y2) pixels from pose landmarks (K, 3) = [x px, y px, visibility].

    The box spans the visible landmarks, grows by 10% of its size on each side and by 40% of
    the shoulder-to-nose height above the top landmark (landmarks stop at the eyes/ears, the
    head does not), then is clamped to the image. None when fewer than 4 landmarks are visible.
    """
    vis = xyv[xyv[:, 2] >= min_visibility]
    if len(vis) < 4:
        return None
    x1, y1 = vis[:, 0].min(), vis[:, 1].min()
    x2, y2 = vis[:, 0].max(), vis[:, 1].max()
    w, h = x2 - x1, y2 - y1
    x1, x2 = x1 - 0.1 * w, x2 + 0.1 * w
    y1, y2 = y1 - 0.1 * h - 0.4 * max(w, h) * 0.5, y2 + 0.1 * h
    return np.array([max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)],
                    dtype=np.float32)


def detect_people(image: np.ndarray, *, min_visibility: float = 0.5) -> np.ndarray:
    """Detect people in an RGB uint8 image (H, W, 3). Returns (N, 5) float32 rows
    [x1, y1, x2, y2, score] in pixels (N = 0 or 1, see the module limits)."""
    try:
        import mediapipe as mp
    except Exception as exc:
        raise RuntimeError(_MISSING) from exc
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image: expected (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        res = pose.process(img)
    if res.pose_landmarks is None:
        return np.zeros((0, 5), np.float32)
    xyv = np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark])
    box = landmarks_to_box(xyv, w, h, min_visibility)
    if box is None:
        return np.zeros((0, 5), np.float32)
    score = float(np.mean(xyv[:, 2]))
    return np.concatenate([box, [score]]).astype(np.float32)[None]


# ---- choosing a detector ------------------------------------------------------------------

DETECTORS = ("yolov3", "mediapipe", "none")


def no_detector_message() -> str:
    """What a user can do when no person detector is available."""
    return ("no person boxes and no person detector: pass boxes (--boxes FILE, or xyxy=...), or "
            "the official YOLOv3 weights (--detector-weights yolov3.weights, or put them in "
            "$CLIFF_HOME/ckpt/yolov3.weights), or install MediaPipe (pip install '.[detect]' in a cliff clone; "
            "one person per image)")


class PersonDetector:
    """A chosen detector: ``boxes(images)`` -> one (N, 4) float32 xyxy array per image."""

    def __init__(self, kind: str, weights: str | None = None, *, threshold: float = 0.5,
                 max_people: int | None = None, precision: str = "fp32"):
        self.kind, self.weights = kind, weights
        self.threshold, self.max_people, self.precision = threshold, max_people, precision
        self._yolo = None

    def rows(self, images: list) -> np.ndarray:
        """detection_all (N, 8) rows for RGB images (YOLOv3 layout; MediaPipe rows have
        objectness = class score = its mean landmark visibility, class 0)."""
        if self.kind == "yolov3":
            if self._yolo is None:
                from .yolo import Detector
                self._yolo = Detector(self.weights, precision=self.precision, threshold=self.threshold,
                                      max_people=self.max_people)
            return self._yolo.detect(list(images))
        out = []
        for i, img in enumerate(images):
            for r in detect_people(img):
                out.append([i, *r[:4], r[4], r[4], 0])
        return np.array(out, np.float32).reshape(-1, 8)

    def boxes(self, images: list) -> list[np.ndarray]:
        rows = self.rows(images)
        return [rows[rows[:, 0] == i, 1:5] for i in range(len(images))]

    def close(self) -> None:
        if self._yolo is not None:
            self._yolo.close()
            self._yolo = None


def choose(kind: str = "auto", weights: str | None = None, *, threshold: float = 0.5,
           max_people: int | None = None, precision: str = "fp32") -> PersonDetector | None:
    """The person detector to use, checked without loading anything heavy.

    kind: "auto" (YOLOv3 when its weights are found, else MediaPipe when installed), "yolov3",
    "mediapipe" or "none" (returns None: boxes must come from elsewhere). Raises
    FileNotFoundError / RuntimeError naming the options when the chosen one is unavailable."""
    import os

    from .yolo import default_weights, weights_size
    if kind not in DETECTORS + ("auto",):
        raise ValueError(f"detector: expected one of {', '.join(DETECTORS)} or 'auto', got {kind!r}")
    if kind == "none":
        return None
    if weights is not None or kind == "yolov3":
        path = os.fspath(weights) if weights is not None else default_weights()
        if path is None:
            raise FileNotFoundError("--detector yolov3 needs the official darknet yolov3.weights: pass "
                                    "--detector-weights PATH or put it in $CLIFF_HOME/ckpt/yolov3.weights")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file (YOLOv3 darknet weights expected)")
        size = os.path.getsize(path)
        if size not in (weights_size(), weights_size() - 4):
            raise OSError(f"YOLOv3 weights '{path}': expected {weights_size()} bytes, found {size} bytes")
        return PersonDetector("yolov3", path, threshold=threshold, max_people=max_people, precision=precision)
    if kind == "auto" and default_weights() is not None:
        return choose("yolov3", None, threshold=threshold, max_people=max_people, precision=precision)
    if available():
        return PersonDetector("mediapipe", threshold=threshold, max_people=max_people)
    if kind == "mediapipe":
        raise RuntimeError(_MISSING)
    raise RuntimeError(no_detector_message())


def add_arguments(p) -> None:
    """The detector options of `cliff predict` / `cliff demo` (argparse)."""
    p.add_argument("--detector", choices=DETECTORS + ("auto",), default="auto",
                   help="person detector when no boxes are given (auto: yolov3 when its weights "
                        "are found, else mediapipe)")
    p.add_argument("--detector-weights", metavar="PATH",
                   help="darknet yolov3.weights (default: $CLIFF_HOME/ckpt/yolov3.weights)")
    p.add_argument("--det-threshold", type=float, default=0.5, metavar="P",
                   help="YOLOv3 objectness threshold (kept when > P; the demo's 0.5)")
    p.add_argument("--max-people", type=int, default=None, metavar="N",
                   help="keep the N most confident people per image")


def from_args(args) -> PersonDetector | None:
    return choose(getattr(args, "detector", "auto"), getattr(args, "detector_weights", None),
                  threshold=getattr(args, "det_threshold", 0.5), max_people=getattr(args, "max_people", None),
                  precision=getattr(args, "precision", "fp32"))


_DEFAULT: dict = {}


def default_boxes(image: np.ndarray) -> np.ndarray:
    """Person boxes (N, 4) for one RGB image with the default detector (cached)."""
    det = _DEFAULT.get("auto")
    if det is None:
        det = _DEFAULT["auto"] = choose("auto")
    return det.boxes([image])[0]
