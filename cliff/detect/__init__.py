"""Person boxes for images: the optional built-in detector.

The official demo uses YOLOv3 on CUDA. Nothing comparable ships inside a package here, so the
built-in detector is MediaPipe's BlazePose (the pose detector and landmark models bundled in
the `mediapipe==0.10.21` wheel: nothing is downloaded at run time), installed with the
`detect` extra: ``pip install 'cliff-hps[detect]'``.

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
            "(pip install 'cliff-hps[detect]'); or pass person boxes (xyxy) yourself")


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
