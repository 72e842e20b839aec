"""Person boxes from files: cliff's own JSON, COCO annotations and COCO detection results."""
from __future__ import annotations

import os

import numpy as np

__all__ = ["load_boxes", "boxes_for"]


def load_boxes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Person boxes from a file, keyed by image file name (basename) -> (N, 5) float32
    [x1, y1, x2, y2, score].

    Accepted forms:
    - {"img.jpg": [[x1, y1, x2, y2(, score)], ...], ...} (cliff's own, as in cliff/data/boxes.json);
    - COCO: {"images": [{"id", "file_name"}], "annotations": [{"image_id", "bbox": [x, y, w, h],
      "category_id"?, "score"?}]}; only category 1 (person) is kept when categories are given;
    - COCO detection results: [{"image_id": "img.jpg" or its stem, "bbox": [x, y, w, h], "score"?}].

    Every value is type-checked and must be finite in float32 (no NaN/inf, no 400-digit
    numbers). Raises TypeError for a ``path`` that is not a path, FileNotFoundError / OSError
    for a missing or unreadable file (or one that is not JSON), ValueError naming the path
    for a malformed one (wrong JSON types, boxes that are not 4 numbers, non-finite values,
    JSON nested deeper than the budget of :mod:`cliff.io.budget`).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a boxes file path, got {type(path).__name__}")
    from .budget import guarded
    return guarded(path, "a JSON boxes file", _load_boxes, os.fspath(path))


def _load_boxes(path: str) -> dict[str, np.ndarray]:
    from .budget import describe, load_json
    try:
        data = load_json(path, "boxes")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise OSError(f"{path}: not a readable JSON boxes file ({exc})") from None

    boxes: dict[str, list] = {}

    def num(v, what):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{path}: malformed boxes file: {what}: expected a number, got {describe(v)}")
        f = float(v)
        if not abs(f) <= 3.4e38:  # NaN, inf and what float32 cannot hold
            raise ValueError(f"{path}: malformed boxes file: {what}: expected a finite number, got {describe(v)}")
        return f

    def name_of(v, what):
        if isinstance(v, str):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise ValueError(f"{path}: malformed boxes file: {what}: expected an image name or id, got {describe(v)}")

    def add(name: str, xyxy, score):
        boxes.setdefault(os.path.basename(name), []).append(
            [*(num(v, f"box of {describe(name)}") for v in xyxy), num(score, "score")])

    def xywh(b):
        if not isinstance(b, list) or len(b) != 4:
            raise ValueError(f"{path}: malformed boxes file: a COCO bbox needs 4 numbers [x, y, w, h], got {describe(b)}")
        x, y, w, h = (num(v, "bbox") for v in b)
        return [x, y, x + w, y + h]

    def dicts(seq, what):
        if not isinstance(seq, list) or not all(isinstance(a, dict) for a in seq):
            raise ValueError(f"{path}: malformed boxes file: {what} must be a list of objects, got {describe(seq)}")
        return seq

    if isinstance(data, dict) and "annotations" in data:
        names = {}
        for im in dicts(data.get("images", []), "'images'"):
            if "id" in im and "file_name" in im:
                names[name_of(im["id"], "image id")] = name_of(im["file_name"], "file_name")
        for a in dicts(data["annotations"], "'annotations'"):
            if "category_id" in a and a["category_id"] != 1:
                continue
            if "image_id" not in a or "bbox" not in a:
                raise ValueError(f"{path}: malformed boxes file: an annotation needs 'image_id' and 'bbox'")
            image_id = name_of(a["image_id"], "image_id")
            add(names.get(image_id, image_id), xywh(a["bbox"]), a.get("score", 1.0))
    elif isinstance(data, dict):
        for name, rows in data.items():
            if not isinstance(rows, list):
                raise ValueError(f"{path}: malformed boxes file: boxes of {describe(name)} must be a list, got {describe(rows)}")
            for r in rows:
                if not isinstance(r, list) or len(r) not in (4, 5):
                    raise ValueError(f"{path}: malformed boxes file: box for {describe(name)} needs [x1, y1, x2, y2(, score)], "
                                     f"got {describe(r)}")
                add(name, r[:4], r[4] if len(r) == 5 else 1.0)
    elif isinstance(data, list):
        for a in dicts(data, "a detection list"):
            if "category_id" in a and a["category_id"] != 1:
                continue
            if "image_id" not in a or "bbox" not in a:
                raise ValueError(f"{path}: malformed boxes file: a detection needs 'image_id' and 'bbox'")
            add(name_of(a["image_id"], "image_id"), xywh(a["bbox"]), a.get("score", 1.0))
    else:
        raise ValueError(f"{path}: malformed boxes file: expected a JSON object or list of detections")
    return {k: np.asarray(v, dtype=np.float32).reshape(-1, 5) for k, v in boxes.items()}


def boxes_for(boxes: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    """Boxes of an image name from load_boxes' dict: by basename, then by stem."""
    base = os.path.basename(name)
    if base in boxes:
        return boxes[base]
    if ":" in base:  # a video frame "<video>:<frame>" has its own key or no boxes
        return None  # (its stem, the video's, would match every other frame's key)
    stem = os.path.splitext(base)[0]
    for k, v in boxes.items():
        if os.path.splitext(k)[0] == stem:
            return v
    return None
