"""2D keypoint formats and their correspondence to the 45 SMPL output joints.

Formats (names in order):

* ``coco17``: the 17 COCO person keypoints.
* ``part24``: the 24-joint order of the ``part`` field of the released CLIFF/SPIN pseudo ground
  truth: the "24 Ground Truth joints" of SPIN's ``constants.JOINT_NAMES`` (entries 25-48 of
  that list; the first 25 are the OpenPose joints), nkolot/SPIN ``constants.py``.
* ``openpose25``: OpenPose BODY_25 (the first 25 entries of the same list).

The 45 model joints are the smplx SMPL output (docs/official.md#joints): 0-23 SMPL joints, 24-44
vertex joints (nose, eyes, ears, feet, fingertips). ``*_TO_SMPLX[k]`` is the model joint that
keypoint k is compared with, or -1 when no model joint corresponds (the keypoint is then
ignored by the fitter and written with confidence 0 in ``S``).

Choices (documented in docs/annotate.md):

* COCO/OpenPose/LSP hips are surface landmarks, lower and more lateral than SMPL's hip joints
  (1, 2), which are joint centres; we map them to SMPL joints 1/2 like SPIN's ``JOINT_MAP`` does
  for the OpenPose hips. The systematic offset of a few centimetres is absorbed by the
  robust loss; users with many hip outliers can lower their confidence.
* ``part24`` Neck (LSP) -> SMPL neck (12), Pelvis (MPII) -> pelvis (0), Head (H36M) -> head
  (15). Top of head, thorax, spine and jaw have no SMPL joint and are left unmapped (SPIN used
  an extra H36M regressor for them, which is not part of SMPL).
"""
from __future__ import annotations

import numpy as np

from ..constants import JOINT_NAMES as SMPLX45_NAMES  # noqa: E402  the 45 output joints
from ..constants import VERTEX_JOINT_IDS  # noqa: E402,F401

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_TO_SMPLX = np.array([24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8],
                           dtype=np.int64)

PART24_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck_lsp", "head_top_lsp", "pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m",
    "head_h36m", "nose", "left_eye", "right_eye", "left_ear", "right_ear",
)
PART24_TO_SMPLX = np.array([8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, -1, 0, -1, -1, -1,
                            15, 24, 26, 25, 28, 27], dtype=np.int64)

OPENPOSE25_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
OPENPOSE25_TO_SMPLX = np.array([24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27,
                                28, 29, 30, 31, 32, 33, 34], dtype=np.int64)

#: COCO keypoint k goes to part24 slot COCO17_TO_PART24[k] (SPIN's COCO preprocessing layout).
COCO17_TO_PART24 = np.array([19, 20, 21, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0],
                            dtype=np.int64)
#: OpenPose keypoint k goes to part24 slot (or -1: mid_hip and the feet have no part slot).
OPENPOSE25_TO_PART24 = np.array([19, 12, 8, 7, 6, 9, 10, 11, -1, 2, 1, 0, 3, 4, 5, 21, 20, 23,
                                 22, -1, -1, -1, -1, -1, -1], dtype=np.int64)

FORMATS = {
    "coco17": (COCO17_NAMES, COCO17_TO_SMPLX),
    "part24": (PART24_NAMES, PART24_TO_SMPLX),
    "openpose25": (OPENPOSE25_NAMES, OPENPOSE25_TO_SMPLX),
}


def format_of(num_keypoints: int) -> str:
    """Name of the format with this many keypoints (17 -> coco17, 24 -> part24, 25 -> openpose25)."""
    for name, (names, _) in FORMATS.items():
        if len(names) == num_keypoints:
            return name
    raise ValueError(f"keypoints: expected 17 (COCO), 24 (part) or 25 (OpenPose) keypoints per "
                     f"person, got {num_keypoints}")


def smplx_index(fmt: str) -> np.ndarray:
    """(K,) int64: model joint (0..44) of each keypoint of format `fmt`, -1 = none."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {sorted(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt][1].copy()


def check_keypoints(keypoints, name: str = "keypoints") -> np.ndarray:
    """Validate and return keypoints as float64 (N, K, 3) [x, y, conf] (a single (K, 3) person is
    promoted). Raises ValueError for NaN/inf, a bad shape, negative confidences or an unknown K."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (N, K, 3) [x, y, conf], got {np.shape(keypoints)}")
    try:
        format_of(kp.shape[1])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if not np.isfinite(kp).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    if (kp[..., 2] < 0).any():
        raise ValueError(f"{name}: confidences (column 2) must be >= 0")
    return kp


def _is_id(v) -> bool:
    """A COCO image id: a string or a (non-bool) integer, usable as a dict key."""
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


def to_part24(keypoints) -> np.ndarray:
    """COCO-17, OpenPose-25 or part-24 keypoints (N, K, 3) -> part-24 (N, 24, 3); slots without a
    source keypoint are zero (confidence 0)."""
    kp = check_keypoints(keypoints)
    fmt = format_of(kp.shape[1])
    if fmt == "part24":
        return kp.copy()
    table = COCO17_TO_PART24 if fmt == "coco17" else OPENPOSE25_TO_PART24
    out = np.zeros(kp.shape[:1] + (24, 3))
    src = np.flatnonzero(table >= 0)
    out[:, table[src]] = kp[:, src]
    return out


def boxes_from_keypoints(keypoints, min_conf: float = 0.0, pad: float = 0.1) -> np.ndarray:
    """Person boxes (N, 4) xyxy pixels around the keypoints with conf > min_conf, grown by `pad`
    of the box size on each side. A person with fewer than 2 such keypoints gets a box of zeros
    (callers skip it: see cliff.annotate)."""
    kp = check_keypoints(keypoints)
    boxes = np.zeros((kp.shape[0], 4))
    for i, p in enumerate(kp):
        ok = p[:, 2] > min_conf
        if ok.sum() < 2:
            continue
        lo, hi = p[ok, :2].min(0), p[ok, :2].max(0)
        size = hi - lo
        if not (size.max() > 0):
            continue
        boxes[i, :2] = lo - pad * size
        boxes[i, 2:] = hi + pad * size
    return boxes


def load_keypoint_file(path, *, strict: bool = True) -> list:
    """Read a keypoints file -> [(image file name, keypoints (n,K,3) float64, boxes (n,4) xyxy or
    None)], one entry per image in first-appearance order.

    * COCO-style JSON: ``{"images": [{"id", "file_name"}...], "annotations": [{"image_id",
      "keypoints": [x, y, v] * K, "bbox": [x, y, w, h] (optional)}...]}``; an annotation may
      name its image directly with "file_name" instead of "image_id". v is read as a confidence
      clipped to [0, 1]: COCO's 0 (not labelled) -> 0, 1 (labelled, occluded) and 2 (visible)
      -> 1, detector scores in [0, 1] are kept. Boxes are used only if every annotation of the
      image has one.
    * .npz: ``imgname`` (N,) str, ``keypoints`` (N,K,3) [x, y, conf] and optionally ``boxes``
      (N,4) xyxy, one row per person.

    strict=True (default): every value must be usable (NaN/inf or negative confidences raise
    ValueError naming the image). strict=False (what `cliff annotate` uses): one bad person does
    not reject the file: keypoints with NaN/inf (JSON null, NaN) are kept as they are so that the
    annotator skips that person and reports it, and negative .npz confidences become 0.
    Structural problems (not JSON/.npz, missing keys, wrong JSON types, K not a multiple of 3,
    people of one image with different K, non-finite boxes in strict mode) raise
    ValueError/OSError either way, and so do files beyond the readers' budgets (JSON nested
    deeper than 64 levels, numbers longer than 64 characters, arrays beyond the byte budget:
    :mod:`cliff.io.budget`). Raises TypeError only for a ``path`` that is not a path.
    """
    import os

    from ..io.budget import guarded

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a keypoints file path, got {type(path).__name__}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict: expected a bool, got {type(strict).__name__}")
    try:
        return guarded(path, "a COCO-style keypoints JSON or .npz file", _load_keypoint_file,
                       path, strict)
    except ValueError as exc:  # every message names the file
        msg, where = str(exc), os.fspath(path)
        if where in msg or repr(where) in msg:
            raise
        cls = type(exc) if type(exc).__init__ is ValueError.__init__ else ValueError
        raise cls(f"keypoints: {where!r}: {msg.removeprefix('keypoints: ')}") from None


def _load_keypoint_file(path, strict: bool) -> list:
    import os

    from ..io.budget import Meter, describe, load_json
    from ..io.npz import read_npz

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OSError(f"keypoints: no such file {path!r}")
    if path.endswith(".npz"):
        # the .npz layout has nothing per annotation to be lenient about except values
        z = read_npz(path, Meter(path, os.path.getsize(path)), f"keypoints: {path!r}")
        if "imgname" not in z or "keypoints" not in z:
            raise ValueError(f"keypoints: {path!r} needs arrays 'imgname' and 'keypoints', "
                             f"has {[describe(k, 40) for k in list(z)[:20]]}")
        names = z["imgname"].astype(str)
        kp = np.array(z["keypoints"], np.float64)
        boxes = np.asarray(z["boxes"], np.float64) if "boxes" in z else None
        if kp.ndim != 3 or kp.shape[-1] != 3 or len(kp) != len(names) or (
                boxes is not None and boxes.shape != (len(kp), 4)):
            raise ValueError(f"keypoints: {path!r}: expected imgname (N,), keypoints (N,K,3), "
                             f"boxes (N,4), got {names.shape}, {kp.shape}, "
                             f"{None if boxes is None else boxes.shape}")
        if boxes is not None and not np.isfinite(boxes).all():
            raise ValueError(f"keypoints: {path!r}: 'boxes' contains NaN or infinite values")
        if not strict:
            kp[..., 2] = np.where(kp[..., 2] < 0, 0.0, kp[..., 2])  # NaN stays NaN
        rows = [(str(n), kp[i], None if boxes is None else boxes[i]) for i, n in enumerate(names)]
    else:
        try:
            data = load_json(path, "keypoints")
        except ValueError as exc:
            raise ValueError(f"{exc} (expected an .npz or a COCO-style JSON file)") from None
        if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
            raise ValueError(f"keypoints: {path!r}: expected a COCO-style object with 'annotations'")
        images = data.get("images", [])
        if not isinstance(images, list):
            raise ValueError(f"keypoints: {path!r}: 'images' must be a list, got {describe(images)}")
        id2name = {im["id"]: im["file_name"] for im in images
                   if isinstance(im, dict) and _is_id(im.get("id")) and
                   isinstance(im.get("file_name"), str)}
        rows = []
        for a, ann in enumerate(data["annotations"]):
            if not isinstance(ann, dict) or "keypoints" not in ann:
                raise ValueError(f"keypoints: annotation {a} has no 'keypoints'")
            image_id = ann.get("image_id")
            name = ann.get("file_name", id2name.get(image_id) if _is_id(image_id) else None)
            if name is None:
                raise ValueError(f"keypoints: annotation {a}: image_id {describe(image_id)} not "
                                 f"in 'images' and no 'file_name'")
            if not isinstance(name, str):
                raise ValueError(f"keypoints: annotation {a}: file_name must be a string, got "
                                 f"{describe(name)}")
            try:
                k = np.array(ann["keypoints"], np.float64).reshape(-1)  # null -> NaN
            except (TypeError, ValueError) as exc:
                raise ValueError(f"keypoints: annotation {a}: expected numbers [x, y, v] * K ({exc})") from None
            if k.size % 3 or k.size == 0:
                raise ValueError(f"keypoints: annotation {a}: {k.size} numbers, not [x, y, v] * K")
            k = k.reshape(-1, 3)
            k[:, 2] = np.clip(k[:, 2], 0, 1)  # NaN stays NaN (the person is skipped)
            bb = ann.get("bbox")
            box = None
            if bb is not None:
                try:
                    bb = np.asarray(bb, np.float64).reshape(4)
                except (TypeError, ValueError):
                    raise ValueError(f"keypoints: annotation {a}: bbox: expected [x, y, w, h], "
                                     f"got {describe(bb)}") from None
                box = np.r_[bb[:2], bb[:2] + bb[2:]]
                if not np.isfinite(box).all():
                    if strict:
                        raise ValueError(f"keypoints: annotation {a}: bbox contains NaN or "
                                         "infinite values")
                    box = None  # lenient: the box is derived from the keypoints instead
            rows.append((str(name), k, box))
    out, index = [], {}
    for name, k, box in rows:
        if name not in index:
            index[name] = len(out)
            out.append([name, [], []])
        out[index[name]][1].append(k)
        out[index[name]][2].append(box)
    result = []
    for name, ks, bs in out:
        shapes = {k.shape for k in ks}
        if len(shapes) != 1:
            raise ValueError(f"keypoints: image {name!r}: people have different keypoint counts {shapes}")
        kp = np.stack(ks)
        if strict:
            kp = check_keypoints(kp, f"keypoints of {name!r}")
        boxes = None if any(b is None for b in bs) else np.stack(bs)
        result.append((name, kp, boxes))
    return result
