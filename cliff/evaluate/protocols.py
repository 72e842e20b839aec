"""The three benchmark protocols: 3DPW (test), Human3.6M protocol 2, EMDB (EMDB-1).

A protocol turns a dataset file into sequences of :class:`Item` (one person in one image, with
its box and camera) and scores predictions (SMPL rotations and shape per item) against the
ground truth. The network never appears here: :func:`cliff.evaluate.evaluate` feeds items to
a predictor (by default a :class:`cliff.Estimator`) and hands what it returns to the scorer,
so a protocol can also score any other model's SMPL parameters.

Joint sets and conventions (docs/evaluate.md gives the sources):

- 3DPW and Human3.6M use 14 LSP joints: the 17 Human3.6M joints regressed from the mesh with
  ``J_regressor_h36m.npy``, reordered by :data:`H36M_TO_J14`; the 3DPW ground truth comes from
  the gender-specific SMPL, Human3.6M's from the motion capture (``S``, picked by
  :data:`J24_TO_J14`). The root is the midpoint of the hips (LSP joints 2 and 3) by default
  (``pelvis="hips"``); ``pelvis="h36m"`` uses the regressed Human3.6M pelvis (joint 0) as SPIN's
  ``eval.py`` does.
- EMDB uses the 24 SMPL joints, the ground truth from the gender-specific SMPL moved into the
  camera by the per-frame extrinsics, the root is the mean of the hips (SMPL joints 1 and 2),
  only frames of ``good_frames_mask``, and jitter on the predicted joints (no translation).

Errors are in millimetres; jitter in EMDB's unit, 10 m/s^3.
"""
from __future__ import annotations

import glob
import os
import tokenize
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from . import metrics as M
from .datasets import (frame_of, read_3dpw, read_3dpw_sequence, read_emdb, read_h36m,
                       sequence_of)

#: A float64 (17, 6890) regressor is 0.9 MB; anything far larger is not one.
_MAX_REGRESSOR_FILE = 64 << 20

__all__ = ["Item", "Options", "Bodies", "Benchmark", "PW3D", "H36M", "EMDB", "BENCHMARKS",
           "H36M_TO_J14", "J24_TO_J14"]

#: The 14 LSP joints (right ankle, knee, hip, left hip, knee, ankle, right wrist, elbow,
#: shoulder, left shoulder, elbow, wrist, neck, head top) among the 17 Human3.6M joints.
H36M_TO_J14 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
#: The same 14 joints among SPIN's 24 ground-truth joints (the ``S`` arrays).
J24_TO_J14 = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18)
LSP_RIGHT_HIP, LSP_LEFT_HIP = 2, 3
SMPL_LEFT_HIP, SMPL_RIGHT_HIP = 1, 2
H36M_PELVIS = 0


@dataclass
class Item:
    """One person to predict: image path, box (x1, y1, x2, y2) px, camera, and where it comes
    from (sequence, row of the dataset file or frame of the EMDB sequence)."""
    seq: str
    row: int
    image: str
    xyxy: np.ndarray
    K: tuple | None = None          # (fx, fy, cx, cy) px, or None for CLIFF's default camera
    focal: float | None = None      # a fixed focal (px) with the principal point at the centre
    half: bool = False              # read the image at half resolution (box and K are halved)


@dataclass
class Options:
    """The choices that move the numbers (docs/evaluate.md).

    focal: "auto" (the dataset's intrinsics when known, else the image diagonal), "diagonal",
        "intrinsics", or a number of pixels.
    boxes: "file" (3DPW/H36M: the file's center/scale; EMDB: its boxes) or "keypoints" (3DPW:
        the tight box of the ground-truth 3D joints projected with the sequence files' camera).
    box_rescale: crop enlargement; default 1.0 for the files' center/scale (the crop is
        200*scale px high), 1.2 for keypoint boxes (SPIN's factor), 1.1 for EMDB boxes (the
        official demo's).
    half_res: run on images downscaled by 2 (2x2 mean); boxes and intrinsics follow.
    pelvis: "hips" or "h36m" (3DPW and Human3.6M only).
    subset: "emdb1" (the paper's subset) or "all" (EMDB).
    fps: EMDB frame rate for the jitter.
    """
    focal: Any = "auto"
    boxes: str = "file"
    box_rescale: float | None = None
    half_res: bool = False
    pelvis: str = "hips"
    subset: str = "emdb1"
    fps: float = 30.0

    def check(self, benchmark: str) -> None:
        f = self.focal
        if isinstance(f, str):
            if f not in ("auto", "diagonal", "intrinsics"):
                raise ValueError(f"focal: expected 'auto', 'diagonal', 'intrinsics' or pixels, got {f!r}")
        elif isinstance(f, bool) or not isinstance(f, (int, float, np.number)) or not (np.isfinite(f) and f > 0):
            raise ValueError(f"focal: expected a positive focal length in pixels, got {f!r}")
        if self.boxes not in ("file", "keypoints"):
            raise ValueError(f"boxes: expected 'file' or 'keypoints', got {self.boxes!r}")
        if self.boxes == "keypoints" and benchmark != "3dpw":
            raise ValueError("boxes='keypoints' needs 3DPW's sequence files (3dpw only)")
        r = self.box_rescale
        if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float, np.number))
                              or not (np.isfinite(r) and r > 0)):
            raise ValueError(f"box_rescale: expected a number > 0, got {r!r}")
        if self.pelvis not in ("hips", "h36m"):
            raise ValueError(f"pelvis: expected 'hips' or 'h36m', got {self.pelvis!r}")
        if self.subset not in ("emdb1", "all"):
            raise ValueError(f"subset: expected 'emdb1' or 'all', got {self.subset!r}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps: expected a positive frame rate, got {self.fps!r}")


class Bodies:
    """The SMPL models (neutral for predictions, male/female for ground truth) and the
    Human3.6M joint regressor, loaded on first use.

    smpl_dir: a folder with ``SMPL_NEUTRAL``, ``SMPL_MALE``, ``SMPL_FEMALE`` (``.pkl`` as
    released, or ``.npz``) as in CLIFF's ``data/smpl``; ``models`` overrides single genders
    with paths or :class:`cliff.SMPL` objects. J_regressor: ``J_regressor_h36m.npy`` (17, 6890);
    default: in ``smpl_dir`` or its parent."""

    GENDERS = ("neutral", "male", "female")

    def __init__(self, smpl_dir: Any = None, *, models: dict | None = None, J_regressor: Any = None):
        self.smpl_dir = None if smpl_dir is None else os.fspath(smpl_dir)
        if self.smpl_dir is not None and not os.path.isdir(self.smpl_dir):
            raise FileNotFoundError(f"smpl_dir: not a folder: {self.smpl_dir!r}")
        self._given = dict(models or {})
        for g in self._given:
            if g not in self.GENDERS:
                raise ValueError(f"models: unknown gender {g!r}, expected one of {self.GENDERS}")
        self._models: dict = {}
        self._jreg_src = J_regressor
        self._jreg: np.ndarray | None = None

    def path(self, gender: str) -> str | None:
        g = self._given.get(gender)
        if isinstance(g, (str, os.PathLike)):
            return os.fspath(g)
        if g is not None or self.smpl_dir is None:
            return None
        names = [f"SMPL_{gender.upper()}.pkl", f"SMPL_{gender.upper()}.npz"]
        for n in names:
            p = os.path.join(self.smpl_dir, n)
            if os.path.isfile(p):
                return p
        raise FileNotFoundError(f"smpl_dir: no {gender} SMPL model in {self.smpl_dir!r} "
                                f"(looked for {' or '.join(names)})")

    def model(self, gender: str):
        from ..smpl import SMPL

        if gender not in self._models:
            g = self._given.get(gender)
            if isinstance(g, SMPL):
                self._models[gender] = g
            else:
                p = self.path(gender)
                if p is None:
                    raise ValueError(f"no {gender} SMPL model: pass smpl_dir or models={{{gender!r}: path}}")
                self._models[gender] = SMPL(p)
        return self._models[gender]

    def regressor_path(self) -> str | None:
        src = self._jreg_src
        if src is not None and not isinstance(src, (str, os.PathLike)):
            return None
        if src is not None:
            return os.fspath(src)
        if self.smpl_dir is not None:
            for d in (self.smpl_dir, os.path.dirname(os.path.abspath(self.smpl_dir))):
                p = os.path.join(d, "J_regressor_h36m.npy")
                if os.path.isfile(p):
                    return p
        raise FileNotFoundError("J_regressor: no J_regressor_h36m.npy given, nor in smpl_dir "
                                "or its parent folder")

    def regressor(self) -> np.ndarray:
        if self._jreg is None:
            p = self.regressor_path()
            if p is None:
                r = np.asarray(self._jreg_src)
                where = "J_regressor"
            else:
                if not os.path.isfile(p):
                    raise FileNotFoundError(f"J_regressor: no such file {p!r}")
                if os.path.getsize(p) > _MAX_REGRESSOR_FILE:
                    raise ValueError(f"{p}: {os.path.getsize(p)} bytes, not a (17, 6890) joint "
                                     f"regressor (at most {_MAX_REGRESSOR_FILE} bytes)")
                try:  # mapped: a header that declares more data than the file holds fails
                    r = np.array(np.load(p, mmap_mode="r", allow_pickle=False))
                except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
                    # TokenError: a header dict left open (NumPy tokenizes the header)
                    raise ValueError(f"{p}: not a plain .npy array ({exc})") from None
                where = p
            if r.ndim != 2 or r.shape[0] != 17 or r.dtype.kind not in "fiu":
                raise ValueError(f"{where}: expected a (17, 6890) Human3.6M joint regressor, "
                                 f"got {r.dtype} {r.shape}")
            r = r.astype(np.float64)
            if not np.isfinite(r).all():
                raise ValueError(f"{where}: contains NaN or infinite values")
            self._jreg = r
        return self._jreg

    def fingerprint(self, genders: tuple, regressor: bool) -> dict:
        """What identifies the files (name and size) in a resumable result."""
        out = {}
        for g in genders:
            p = self.path(g)
            out[g] = _file_id(p) if p else "object"
        if regressor:
            p = self.regressor_path()
            out["J_regressor"] = _file_id(p) if p else "array"
        return out


def _file_id(path: str) -> list:
    return [os.path.basename(path), os.path.getsize(path)]


def _pose_body(model, *, pose=None, rotmat=None, betas=None, transl=None):
    out = model(pose=pose, rotmat=rotmat, betas=betas, transl=transl)
    return out["vertices"].astype(np.float64), out["joints"][:, :24].astype(np.float64)


def _stack_pred(preds: list[dict]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if all("rotmat" in p for p in preds):
        out["rotmat"] = np.stack([np.asarray(p["rotmat"], np.float64).reshape(24, 3, 3) for p in preds])
    elif all("pose" in p for p in preds):
        out["pose"] = np.stack([np.asarray(p["pose"], np.float64).reshape(72) for p in preds])
    else:
        raise ValueError("predictions: each needs 'rotmat' (24, 3, 3) or 'pose' (72,)")
    try:
        out["betas"] = np.stack([np.asarray(p["betas"], np.float64).reshape(-1)[:10] for p in preds])
    except KeyError:
        raise ValueError("predictions: each needs 'betas' (10,)") from None
    return out


class Scorer:
    """Per-sequence accumulator: add(items, preds) per batch, then finish()."""

    def __init__(self, keys: tuple):
        self.per_frame: dict[str, list] = {k: [] for k in keys}

    def _push(self, **errs: np.ndarray) -> None:
        for k, v in errs.items():
            self.per_frame[k].extend(float(x) for x in np.asarray(v))

    def finish(self) -> dict:
        n = len(next(iter(self.per_frame.values())))
        return {"frames": n, "per_frame": self.per_frame,
                "metrics": {k: float(np.mean(v)) if v else float("nan")
                            for k, v in self.per_frame.items()}}


class Benchmark:
    """Base class: subclasses set name, keys (per-frame metrics), table (column order and
    labels) and implement sequences(), items() and scorer()."""
    name = ""
    keys: tuple = ()
    table: tuple = ()              # ((key, label), ...) in the paper's column order
    genders: tuple = ("neutral",)
    uses_regressor = True
    default_rescale = 1.0

    def __init__(self, data: Any, images: Any, bodies: Bodies, options: Options):
        options.check(self.name)
        self.data_path = os.fspath(data)
        self.images = None if images is None else os.fspath(images)
        self.bodies, self.options = bodies, options

    @property
    def rescale(self) -> float:
        r = self.options.box_rescale
        return float(r) if r is not None else self.default_rescale

    def _image_root(self) -> str:
        if self.images is None:
            raise ValueError("images: the benchmark's image folder is required")
        if not os.path.isdir(self.images):
            raise FileNotFoundError(f"images: not a folder: {self.images!r}")
        return self.images

    def _camera(self, K: tuple | None) -> tuple[tuple | None, float | None]:
        f = self.options.focal
        if not isinstance(f, str):
            return None, float(f)
        if f == "diagonal":
            return None, None
        if f == "intrinsics" and K is None:
            raise ValueError(f"focal='intrinsics': {self.name} has no camera intrinsics here"
                             + (" (pass the 3DPW sequence files)" if self.name == "3dpw" else ""))
        return K, None

    # to implement
    def sequences(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    def items(self, seq: str, count: int) -> Iterator[Item]:
        raise NotImplementedError

    def scorer(self, seq: str) -> Scorer:
        raise NotImplementedError

    def fingerprint(self) -> dict:
        return self.bodies.fingerprint(self.genders, self.uses_regressor)


def _center_scale_box(center: np.ndarray, scale: float) -> np.ndarray:
    """A box whose official 4:3 crop (rescale 1) is 200*scale px high at `center`: 150*scale
    wide, 200*scale high (the 4:3 padding leaves it unchanged)."""
    cx, cy = float(center[0]), float(center[1])
    h = 100.0 * float(scale)
    return np.array([cx - 0.75 * h, cy - h, cx + 0.75 * h, cy + h])


class _RowDataset(Benchmark):
    """3DPW and Human3.6M: one npz, rows grouped into sequences by image folder/name."""

    def __init__(self, data, images, bodies, options):
        super().__init__(data, images, bodies, options)
        self.d = self.read(self.data_path)
        names = [sequence_of(n, self.name) for n in self.d["imgname"]]
        self._rows: dict[str, list[int]] = {}
        for i, s in enumerate(names):
            self._rows.setdefault(s, []).append(i)

    def sequences(self):
        return [(s, len(r)) for s, r in self._rows.items()]

    def rows(self, seq: str, count: int) -> np.ndarray:
        return np.asarray(self._rows[seq][:count], dtype=np.int64)

    def _item(self, seq, i, xyxy, K):
        K, focal = self._camera(K)
        return Item(seq=seq, row=int(i), image=os.path.join(self._image_root(), str(self.d["imgname"][i])),
                    xyxy=xyxy, K=K, focal=focal, half=self.options.half_res)

    def _root(self, j14: np.ndarray, j17: np.ndarray | None) -> np.ndarray:
        if self.options.pelvis == "hips" or j17 is None:
            return M.hip_midpoint(j14, LSP_LEFT_HIP, LSP_RIGHT_HIP)
        return j17[:, H36M_PELVIS]


class PW3D(_RowDataset):
    """3DPW test split (``3dpw_test.npz``): PA-MPJPE, MPJPE, PVE on 14 joints, mm.

    sequences: optional folder of 3DPW's ``sequenceFiles/test`` (``<seq>.pkl``): gives the
    camera intrinsics (used by focal "auto"/"intrinsics") and the keypoint boxes."""
    name = "3dpw"
    keys = ("pa_mpjpe", "mpjpe", "pve")
    table = (("pa_mpjpe", "PA-MPJPE"), ("mpjpe", "MPJPE"), ("pve", "PVE"))
    genders = ("neutral", "male", "female")
    read = staticmethod(read_3dpw)

    def __init__(self, data, images, bodies, options, sequences: Any = None):
        super().__init__(data, images, bodies, options)
        self.seq_dir = None if sequences is None else os.fspath(sequences)
        if self.seq_dir is not None and not os.path.isdir(self.seq_dir):
            raise FileNotFoundError(f"sequences: not a folder: {self.seq_dir!r}")
        if options.boxes == "keypoints" and self.seq_dir is None:
            raise ValueError("boxes='keypoints': pass 3DPW's sequence files (sequences=DIR, "
                             "the sequenceFiles/test folder)")
        if options.focal == "intrinsics" and self.seq_dir is None:
            raise ValueError("focal='intrinsics': pass 3DPW's sequence files (sequences=DIR)")

    @property
    def default_rescale(self) -> float:  # type: ignore[override]
        return 1.2 if self.options.boxes == "keypoints" else 1.0

    def _sequence_file(self, seq: str) -> dict | None:
        if self.seq_dir is None:
            return None
        p = os.path.join(self.seq_dir, seq + ".pkl")
        if not os.path.isfile(p):
            raise FileNotFoundError(f"sequences: no {seq}.pkl in {self.seq_dir!r}")
        return read_3dpw_sequence(p)

    def items(self, seq, count):
        sf = self._sequence_file(seq)
        K = None
        if sf is not None:
            k = sf["cam_intrinsics"]
            K = (k[0, 0], k[1, 1], k[0, 2], k[1, 2])
        for i in self.rows(seq, count):
            if self.options.boxes == "keypoints":
                xyxy = _keypoint_box(sf, self.d["pose"][i], frame_of(self.d["imgname"][i]),
                                     self.d["imgname"][i])
            else:
                xyxy = _center_scale_box(self.d["center"][i], self.d["scale"][i])
            yield self._item(seq, i, xyxy, K)

    def scorer(self, seq):
        return _Scorer3DPW(self)


def _keypoint_box(sf: dict, pose: np.ndarray, frame: int, name: str) -> np.ndarray:
    """Tight box of the person's 24 ground-truth joints projected into the frame; the person
    is the one whose body pose (joints 1..23) equals the row's."""
    f = sf["cam_poses"].shape[0]
    if not 0 <= frame < f:
        raise ValueError(f"{name}: frame {frame} is outside the sequence file's {f} frames")
    best, who = np.inf, -1
    for p, (poses, valid) in enumerate(zip(sf["poses"], sf["campose_valid"])):
        if not valid[frame]:
            continue
        d = np.abs(poses[frame, 3:] - pose[3:]).max()
        if d < best:
            best, who = d, p
    if who < 0 or best > 1e-4:
        raise ValueError(f"{name}: no person of the sequence file has this row's body pose")
    X = sf["jointPositions"][who][frame].reshape(24, 3)
    T = sf["cam_poses"][frame]
    Xc = X @ T[:3, :3].T + T[:3, 3]
    if (Xc[:, 2] <= 0).any():
        raise ValueError(f"{name}: a joint is behind the camera")
    k = sf["cam_intrinsics"]
    u = k[0, 0] * Xc[:, 0] / Xc[:, 2] + k[0, 2]
    v = k[1, 1] * Xc[:, 1] / Xc[:, 2] + k[1, 2]
    return np.array([u.min(), v.min(), u.max(), v.max()])


class _Scorer3DPW(Scorer):
    def __init__(self, b: PW3D):
        super().__init__(b.keys)
        self.b = b

    def add(self, items: list[Item], preds: list[dict]) -> None:
        b, d = self.b, self.b.d
        rows = np.array([it.row for it in items])
        jreg = b.bodies.regressor()
        gv = np.empty((len(rows), b.bodies.model("neutral").v_template.shape[0], 3))
        for code, g in ((0, "male"), (1, "female")):
            m = d["gender"][rows] == code
            if m.any():
                gv[m] = _pose_body(b.bodies.model(g), pose=d["pose"][rows[m]], betas=d["shape"][rows[m]])[0]
        p = _stack_pred(preds)
        pv = _pose_body(b.bodies.model("neutral"), **p)[0]
        g17 = np.einsum("jv,nvc->njc", jreg, gv)                # (N, 17, 3) Human3.6M joints
        p17 = np.einsum("jv,nvc->njc", jreg, pv)
        g14, p14 = g17[:, list(H36M_TO_J14)], p17[:, list(H36M_TO_J14)]
        groot, proot = b._root(g14, g17), b._root(p14, p17)
        g14, p14 = M.center_on(g14, groot), M.center_on(p14, proot)
        self._push(mpjpe=1000 * M.mpjpe(p14, g14), pa_mpjpe=1000 * M.pa_mpjpe(p14, g14),
                   pve=1000 * M.pve(M.center_on(pv, proot), M.center_on(gv, groot)))


class H36M(_RowDataset):
    """Human3.6M protocol 2 (``h36m_valid_protocol2.npz``: S9, S11, frontal camera, every 5th
    frame): MPJPE and PA-MPJPE on 14 joints, mm."""
    name = "h36m"
    keys = ("mpjpe", "pa_mpjpe")
    table = (("mpjpe", "MPJPE"), ("pa_mpjpe", "PA-MPJPE"))
    read = staticmethod(read_h36m)

    def items(self, seq, count):
        for i in self.rows(seq, count):
            yield self._item(seq, i, _center_scale_box(self.d["center"][i], self.d["scale"][i]), None)

    def scorer(self, seq):
        return _ScorerH36M(self)


class _ScorerH36M(Scorer):
    def __init__(self, b: H36M):
        super().__init__(b.keys)
        self.b = b

    def add(self, items, preds):
        b = self.b
        rows = np.array([it.row for it in items])
        g14 = b.d["S"][rows][:, list(J24_TO_J14)]
        pv = _pose_body(b.bodies.model("neutral"), **_stack_pred(preds))[0]
        p17 = np.einsum("jv,nvc->njc", b.bodies.regressor(), pv)
        p14 = p17[:, list(H36M_TO_J14)]
        if b.options.pelvis == "hips":
            g14 = M.center_on(g14, M.hip_midpoint(g14, LSP_LEFT_HIP, LSP_RIGHT_HIP))
        # pelvis="h36m": the file's S is already centred on the Human3.6M pelvis (SPIN)
        p14 = M.center_on(p14, b._root(p14, p17))
        self._push(mpjpe=1000 * M.mpjpe(p14, g14), pa_mpjpe=1000 * M.pa_mpjpe(p14, g14))


class EMDB(Benchmark):
    """EMDB (``*_data.pkl`` per sequence; EMDB-1 by default): MPJPE, PA-MPJPE, MVE (mm) on the
    24 SMPL joints, and jitter (10 m/s^3).

    data: one ``*_data.pkl`` or a folder searched recursively (EMDB_ROOT). images: EMDB_ROOT
    with ``<subject>/<sequence>/images/00000.jpg``; default: the ``images`` folder next to
    each pkl."""
    name = "emdb"
    keys = ("mpjpe", "pa_mpjpe", "mve")
    table = (("mpjpe", "MPJPE"), ("pa_mpjpe", "PA-MPJPE"), ("mve", "MVE"), ("jitter", "Jitter"))
    uses_regressor = False
    default_rescale = 1.1

    def __init__(self, data, images, bodies, options):
        super().__init__(data, images, bodies, options)
        if os.path.isdir(self.data_path):
            files = sorted(glob.glob(os.path.join(self.data_path, "**", "*_data.pkl"), recursive=True))
            if not files:
                raise FileNotFoundError(f"data: no *_data.pkl under {self.data_path!r}")
        elif os.path.isfile(self.data_path):
            files = [self.data_path]
        else:
            raise FileNotFoundError(f"data: no such file or folder {self.data_path!r}")
        self.seqs: dict[str, tuple[str, dict]] = {}
        for f in files:
            d = read_emdb(f)
            if options.subset == "emdb1" and not d["emdb1"]:
                continue
            self.seqs[d["name"]] = (f, d)
        if not self.seqs:
            raise ValueError(f"data: no EMDB-1 sequence in {self.data_path!r} (subset='all' "
                             "evaluates every sequence)")
        gs = sorted({d["gender"] for _, d in self.seqs.values()} | {"neutral"})
        self.genders = tuple(gs)

    def sequences(self):
        return [(s, int(d["good_frames_mask"].sum())) for s, (_, d) in self.seqs.items()]

    def frames(self, seq: str, count: int) -> np.ndarray:
        return np.flatnonzero(self.seqs[seq][1]["good_frames_mask"])[:count]

    def _image_dir(self, pkl: str) -> str:
        seq_dir = os.path.dirname(os.path.abspath(pkl))
        if self.images is None:
            return os.path.join(seq_dir, "images")
        root = self._image_root()
        parts = seq_dir.split(os.sep)[-2:]
        return os.path.join(root, *parts, "images")

    def items(self, seq, count):
        pkl, d = self.seqs[seq]
        k = d["intrinsics"]
        K, focal = self._camera((k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
        folder = self._image_dir(pkl)
        for i in self.frames(seq, count):
            box = d["bboxes"][i]
            if not (box[2] > box[0] and box[3] > box[1]):
                raise ValueError(f"{pkl}: bboxes[{i}] = {box.tolist()} is empty in a good frame")
            yield Item(seq=seq, row=int(i), image=os.path.join(folder, f"{i:05d}.jpg"),
                       xyxy=box.copy(), K=K, focal=focal, half=self.options.half_res)

    def scorer(self, seq):
        return _ScorerEMDB(self, seq)


class _ScorerEMDB(Scorer):
    def __init__(self, b: EMDB, seq: str):
        super().__init__(b.keys)
        self.b, self.d = b, b.seqs[seq][1]
        self.pred_joints: list[np.ndarray] = []

    def add(self, items, preds):
        d, bodies = self.d, self.b.bodies
        f = np.array([it.row for it in items])
        pose = np.concatenate([d["poses_root"][f], d["poses_body"][f]], axis=1)
        gv, gj = _pose_body(bodies.model(d["gender"]), pose=pose,
                            betas=np.broadcast_to(d["betas"], (len(f), 10)), transl=d["trans"][f])
        T = d["extrinsics"][f]                                  # world -> camera
        gv = np.einsum("nij,nvj->nvi", T[:, :3, :3], gv) + T[:, None, :3, 3]
        gj = np.einsum("nij,nvj->nvi", T[:, :3, :3], gj) + T[:, None, :3, 3]
        pv, pj = _pose_body(bodies.model("neutral"), **_stack_pred(preds))  # no translation
        self.pred_joints.append(pj)
        groot = M.hip_midpoint(gj, SMPL_LEFT_HIP, SMPL_RIGHT_HIP)
        proot = M.hip_midpoint(pj, SMPL_LEFT_HIP, SMPL_RIGHT_HIP)
        gj, pj = M.center_on(gj, groot), M.center_on(pj, proot)
        self._push(mpjpe=1000 * M.mpjpe(pj, gj), pa_mpjpe=1000 * M.pa_mpjpe(pj, gj),
                   mve=1000 * M.pve(M.center_on(pv, proot), M.center_on(gv, groot)))

    def finish(self):
        out = super().finish()
        j = np.concatenate(self.pred_joints) if self.pred_joints else np.zeros((0, 24, 3))
        out["metrics"]["jitter"] = M.jitter(j, fps=self.b.options.fps) / 10.0 if len(j) >= 4 else float("nan")
        return out


BENCHMARKS = {"3dpw": PW3D, "h36m": H36M, "emdb": EMDB}
