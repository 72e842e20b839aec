"""Person boxes from files: cliff's own JSON, COCO annotations and COCO detection results."""
from __future__ import annotations

import json
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
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise OSError(f"{path}: not a readable JSON boxes file ({exc})") from exc

    boxes: dict[str, list] = {}

    def add(name: str, xyxy, score):
        boxes.setdefault(os.path.basename(str(name)), []).append([*map(float, xyxy), float(score)])

    def xywh(b):
        if len(b) != 4:
            raise ValueError(f"{path}: a COCO bbox needs 4 numbers [x, y, w, h], got {b!r}")
        x, y, w, h = map(float, b)
        return [x, y, x + w, y + h]

    try:
        if isinstance(data, dict) and "annotations" in data:
            names = {im["id"]: im["file_name"] for im in data.get("images", [])}
            for a in data["annotations"]:
                if a.get("category_id", 1) != 1:
                    continue
                name = names.get(a["image_id"], a["image_id"])
                add(name, xywh(a["bbox"]), a.get("score", 1.0))
        elif isinstance(data, dict):
            for name, rows in data.items():
                for r in rows:
                    if len(r) not in (4, 5):
                        raise ValueError(f"{path}: box for {name!r} needs [x1, y1, x2, y2(, score)], got {r!r}")
                    add(name, r[:4], r[4] if len(r) == 5 else 1.0)
        elif isinstance(data, list):
            for a in data:
                if a.get("category_id", 1) != 1:
                    continue
                add(a["image_id"], xywh(a["bbox"]), a.get("score", 1.0))
        else:
            raise ValueError(f"{path}: expected a JSON object or list of detections")
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(path):
            raise
        raise ValueError(f"{path}: malformed boxes file ({exc!r})") from exc
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
