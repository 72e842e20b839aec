"""From photos to bodies: the official CLIFF pipeline end to end.

    image (H, W, 3) uint8 RGB + person boxes (xyxy, pixels)
      -> crop                 (official 4:3 box, 1.1 rescale, 256x192 crop, ImageNet normalisation)
      -> network              (encoder + iterative regressor with bbox_info; crop camera -> t_full)
      -> SMPL                 (vertices, 45 joints, in the full-frame camera frame, metres)
      -> projection           (joints2d in full-image pixels)

The arguments are validated here, once; then one C call per batch (cliff_estimate_batch, GIL
released) runs every step, the crops written straight into the network's input. The numbers
are bit-identical to composing cliff.crop, Model.predict, SMPL and project_points.

Units: pixels for image quantities, metres for 3D; OpenCV camera frame (x right, y down,
z forward). Every array is batched over the N people of an image.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from . import _core
from .camera import _parse_K, estimate_focal_length
from .constants import BOX_RESCALE
from .model import Model, load_model
from .smpl import SMPL
from .io.boxes import boxes_for, load_boxes  # noqa: F401  (re-exported: cliff.load_boxes)

PERSON_KEYS = ("rotmat", "pose", "betas", "cam_crop", "t_full", "bbox_info", "focal",
               "vertices", "joints", "joints2d", "xyxy", "center", "scale")


def _as_image(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 view of an image (RGBA: the first three channels); no copy, no flip."""
    img = np.asarray(image)
    if img.dtype.kind in "OSUV":
        raise TypeError(f"image: expected an (H, W, 3) uint8 RGB array, got {type(image).__name__}")
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"image: expected an (H, W, 3) RGB array, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise TypeError(f"image: expected uint8 pixels, got {img.dtype}")
    return img[..., :3] if img.shape[2] == 4 else img


def _as_boxes(xyxy: Any) -> np.ndarray:
    try:
        b = np.asarray(xyxy, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"xyxy: expected (N, 4) boxes [x1, y1, x2, y2] in pixels ({exc})") from None
    if b.ndim == 1 and b.shape[0] in (4, 5):
        b = b[None]
    if b.ndim != 2 or b.shape[1] not in (4, 5):
        raise ValueError(f"xyxy: expected (N, 4) boxes [x1, y1, x2, y2] in pixels, got shape {b.shape}")
    return b[:, :4]


def camera_for(width: int, height: int, focal: Any = None, K: Any = None):
    """The full-frame camera CLIFF uses for an image: (f, (fx, fy), (cx, cy)).

    Without K: square pixels, principal point at the image centre (W/2, H/2) and
    f = focal or the image diagonal sqrt(W^2 + H^2) (the official default).
    With K (3x3, or (fx, fy, cx, cy)): the principal point comes from K, projection uses fx and
    fy, and the single focal that CLIFF's bbox_info and crop->full camera need is (fx + fy)/2
    (the official evaluation protocol's choice)."""
    if K is not None and focal is not None:
        raise ValueError("focal and K: give one of them, not both")
    if K is not None:
        fx, fy, cx, cy = _parse_K(K)
        if np.ndim(fx) != 0:
            raise ValueError(f"K: expected one 3x3 matrix or (fx, fy, cx, cy), got shape {np.shape(K)}")
        if not (cx > 0 and cy > 0):
            # CLIFF takes the principal point as the image centre (W/2, H/2) > 0
            raise ValueError(f"K: the principal point (cx, cy) must be positive pixels, got ({cx:g}, {cy:g})")
        return float(0.5 * (fx + fy)), (float(fx), float(fy)), (float(cx), float(cy))
    if focal is None:
        f = estimate_focal_length(width, height)
    else:
        try:
            f = float(np.asarray(focal, dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            raise TypeError(f"focal: expected one positive number (pixels), got {focal!r}") from None
        if not np.isfinite(f) or f <= 0:
            raise ValueError(f"focal: expected a positive focal length in pixels, got {focal!r}")
    return f, (f, f), (width / 2.0, height / 2.0)


def _empty(n_vertices: int, nj: int = 24, nb: int = 10, nout: int = 45) -> dict[str, np.ndarray]:
    z = np.zeros
    return {"rotmat": z((0, nj, 3, 3), np.float32), "pose": z((0, 3 * nj), np.float32),
            "betas": z((0, nb), np.float32), "cam_crop": z((0, 3), np.float32),
            "t_full": z((0, 3), np.float32), "bbox_info": z((0, 3), np.float32),
            "focal": z((0,), np.float32), "vertices": z((0, n_vertices, 3), np.float32),
            "joints": z((0, nout, 3), np.float32), "joints2d": z((0, nout, 2), np.float32),
            "xyxy": z((0, 4), np.float32), "center": z((0, 2), np.float64),
            "scale": z((0,), np.float64)}


class Estimator:
    """CLIFF from photos: a checkpoint, an SMPL model file, and the official preprocessing.

    >>> est = cliff.Estimator("hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt", "SMPL_NEUTRAL.pkl")
    >>> out = est.run(image_rgb, xyxy=[[x1, y1, x2, y2]])
    >>> out["vertices"].shape, out["joints2d"].shape      # (N, 6890, 3) m, (N, 45, 2) px

    ckpt: a path (official .pt, or .safetensors/.npz with the same keys; or any released CLIFF
        of cliff.families: mmhuman3d's .pth, BEDLAM's cliff.ckpt) or a loaded cliff.Model. The
        crop, bbox_info and box enlargement are the family's (rescale None: its default).
        SMPL-X families (bedlam_cliff.ckpt) drive an SMPL-X body (smplx=).
    smpl: a path (official .pkl or smplx-style .npz) or a cliff.SMPL; or a cliff.SMPLX.
    smplx: for SMPL-X families: the user's SMPL-X model (SMPLX_NEUTRAL.npz/.pkl, loaded with the
        family's beta count, hands and face at rest) or a cliff.SMPLX; give smpl or smplx.
        Outputs then have the family's sizes: rotmat (N,22,3,3), pose (N,66), betas (N,11),
        vertices (N,10475,3), joints/joints2d (N,127,...) in cliff.SMPLX.joint_names order.
    batch_size: people per network call in run_many (crops of several images are batched).
    threads: the thread count of this estimator's network and body model (None: the
    process-wide cliff.set_num_threads count); several estimators in one process can so split
    the cores. Results do not depend on it.
    streams: batch split across thread groups, see cliff.load_model (results do not depend on it).
    focal="learned" with fov_ckpt (CameraHMR's cam_model_cleaned.ckpt, or a
    cliff.FocalEstimator): each image's focal length comes from HumanFoV (one run per image with
    people, batched across images) instead of the image diagonal; a focal or K given to run()
    still wins. Results then carry "focal_learned" (the image's estimate, pixels).
    """

    def __init__(self, ckpt: Any, smpl: Any = None, *, smplx: Any = None, backbone: str | None = None,
                 precision: str = "fp32", batch_size: int = 8, rescale: float | None = None,
                 threads: int | None = None, focal: str | None = None, fov_ckpt: Any = None,
                 streams: int | str | None = None):
        from ._threads import check_threads
        nthreads = check_threads(threads)
        if streams is not None and isinstance(ckpt, Model):
            raise ValueError("streams: give it to load_model when ckpt is a loaded cliff.Model")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        self.model = ckpt if isinstance(ckpt, Model) else load_model(ckpt, backbone=backbone, precision=precision,
                                                                          streams=streams)
        self.smpl = self._body(smpl, smplx)
        self.batch_size = int(batch_size)
        if rescale is None:  # the release's own box enlargement (CLIFF 1.1, BEDLAM 1.0)
            rescale = self.model.family.box_rescale
        if not isinstance(rescale, (int, float, np.integer, np.floating)) or not 0 < rescale < np.inf:
            raise ValueError(f"rescale: expected a finite number > 0, got {rescale!r}")
        self.rescale = float(rescale)
        if nthreads:
            self.model.threads = nthreads
            self.smpl.threads = nthreads
        if self.model.closed:
            raise ValueError("ckpt: the model is closed")
        # borrows the network and the body model (and keeps both objects alive)
        self._core = _core.Estimator(self.model._core, self.smpl._model, self.rescale)
        self.fov = self._learned_focal(focal, fov_ckpt, precision, nthreads)
        self._own_fov = self.fov is not None and self.fov is not fov_ckpt

    def _body(self, smpl: Any, smplx: Any):
        """The body model the family drives: cliff.SMPL or cliff.SMPLX (with its beta count)."""
        from .smplx import SMPLX
        fam = self.model.family
        if smpl is not None and smplx is not None:
            raise ValueError("smpl, smplx: give one body model, not both")
        if smplx is not None:
            if fam.body != "smplx":
                raise ValueError(f"smplx: this checkpoint ({fam.name}) regresses an SMPL body; pass smpl=")
            return smplx if isinstance(smplx, SMPLX) else SMPLX(smplx, num_betas=fam.betas)
        if smpl is None:
            raise ValueError("smpl: a body model is required (smpl=SMPL_NEUTRAL.pkl, or smplx= for SMPL-X "
                             "checkpoints)")
        if isinstance(smpl, (SMPL, SMPLX)):
            return smpl
        if fam.body == "smplx":
            raise ValueError(f"this checkpoint regresses an SMPL-X body ({fam.joints} body joints, "
                             f"{fam.betas} betas); pass an SMPL-X model (smplx=...)")
        return SMPL(smpl)

    def _empty(self) -> dict[str, np.ndarray]:
        fam, body = self.model.family, self.smpl
        nout = len(body.joint_names) if getattr(body, "kind", "smpl") == "smplx" else 45
        return _empty(body.v_template.shape[0], fam.joints, fam.betas, nout)

    @staticmethod
    def _learned_focal(focal: Any, fov_ckpt: Any, precision: str, nthreads: int):
        """focal="learned": HumanFoV (cliff.FocalEstimator) gives each image's focal length."""
        from .focal import FocalEstimator
        if focal is None:
            if fov_ckpt is not None:
                raise ValueError('fov_ckpt: only used with focal="learned"')
            return None
        if focal != "learned":
            raise ValueError(f'focal: expected None (the image diagonal, or run(focal=...)) or "learned", got {focal!r}')
        if fov_ckpt is None:
            raise ValueError('focal="learned" needs fov_ckpt: the path of CameraHMR\'s cam_model_cleaned.ckpt '
                             "(or a cliff.FocalEstimator)")
        if isinstance(fov_ckpt, FocalEstimator):
            return fov_ckpt
        return FocalEstimator(fov_ckpt, precision=precision, threads=nthreads or None)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int32 triangle indices of the body mesh."""
        return self.smpl.faces

    def close(self) -> None:
        self.model.close()
        if self._own_fov:
            self.fov.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one image -------------------------------------------------------------------------

    def _prepare(self, image: Any, xyxy: Any, focal: Any, K: Any, bgr: bool):
        img = _as_image(image)
        h, w = img.shape[:2]
        if xyxy is None:
            from .detect import default_boxes
            xyxy = default_boxes(np.ascontiguousarray(img[..., ::-1] if bgr else img))
        boxes = np.ascontiguousarray(_as_boxes(xyxy))
        learn = self.fov is not None and focal is None and K is None
        f, fxfy, pp = camera_for(w, h, focal, K)
        return {"image": img, "boxes": boxes, "camera": (*fxfy, *pp), "n": len(boxes), "learn": learn}

    def _learn_focals(self, preps: list[dict], bgr: bool) -> None:
        """HumanFoV once per image that has people (one C call for all of them): the focal
        replaces the image-diagonal default in that image's camera (bbox_info and t_full)."""
        todo = [p for p in preps if p.get("learn") and p["n"]]
        if not todo:
            return
        vfov, focal = self.fov.predict_fov([p["image"] for p in todo], bgr=bgr)
        for p, v, f in zip(todo, vfov, focal):
            if not (0 < v < np.pi and np.isfinite(f) and f > 0):
                raise ValueError(f"HumanFoV predicted a vertical field of view of {float(v):.4g} rad for a "
                                 f"{p['image'].shape[1]}x{p['image'].shape[0]} image (expected 0 < vfov < pi): "
                                 "is fov_ckpt CameraHMR's cam_model_cleaned.ckpt?")
            h, w = p["image"].shape[:2]
            p["camera"] = (float(f), float(f), w / 2.0, h / 2.0)
            p["image_focal"] = float(f)

    def _predict(self, preps: list[dict], bgr: bool) -> list[dict]:
        """One C call for the people of several prepared images."""
        self._learn_focals(preps, bgr)
        if not any(p["n"] for p in preps):
            return [self._tag(self._empty(), p) for p in preps]
        live = [p for p in preps if p["n"]]
        out = self._core.run([p["image"] for p in live], [p["boxes"] for p in live],
                             np.array([p["camera"] for p in live], dtype=np.float64), bool(bgr))
        results, start = [], 0
        for p in preps:
            if not p["n"]:
                results.append(self._tag(self._empty(), p))
                continue
            res = {k: v[start:start + p["n"]] for k, v in out.items()}
            res["xyxy"] = p["boxes"].astype(np.float32)
            start += p["n"]
            results.append(self._tag(res, p))
        return results

    def _tag(self, res: dict, prep: dict) -> dict:
        """With focal="learned": res["focal_learned"], HumanFoV's focal for the image (pixels;
        NaN when it was not run: no person, or the call gave focal/K)."""
        if self.fov is not None:
            res["focal_learned"] = np.float32(prep.get("image_focal", np.nan))
        return res

    def run(self, image: Any, xyxy: Any = None, focal: Any = None, K: Any = None, *,
            bgr: bool = False) -> dict[str, np.ndarray]:
        """All people of one image.

        image: (H, W, 3) uint8 **RGB** (pass bgr=True for OpenCV's BGR order).
        xyxy: (N, 4) person boxes in pixels; None runs the default detector (cliff.detect.choose:
            YOLOv3 when $CLIFF_HOME/ckpt/yolov3.weights exists, else MediaPipe).
        focal: pixels (default: the image diagonal, or HumanFoV's estimate when the estimator
            was built with focal="learned"); K: 3x3 intrinsics or (fx, fy, cx, cy).
        Returns a dict of arrays with N rows: rotmat (N,24,3,3), pose (N,72) axis-angle,
        betas (N,10), cam_crop (N,3), t_full (N,3) m, bbox_info (N,3), focal (N,),
        vertices (N,6890,3) m, joints (N,45,3) m, joints2d (N,45,2) px, xyxy (N,4),
        center (N,2) px, scale (N,) (crop height = 200*scale px).
        """
        return self._predict([self._prepare(image, xyxy, focal, K, bgr)], bgr)[0]

    # -- streams ---------------------------------------------------------------------------

    def run_many(self, items: Iterable[Any], *, focal: Any = None, K: Any = None,
                 bgr: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Stream results for many images, batching people across images.

        Each item is an image, or a tuple (image, xyxy), or (image, xyxy, focal). Results are
        yielded in input order, one dict per image (as `run` returns)."""
        pending: list[dict] = []
        people = 0
        for item in items:
            if isinstance(item, tuple):
                if not 1 <= len(item) <= 3:
                    raise ValueError("items: expected an image or a tuple (image, xyxy[, focal]), "
                                     f"got a tuple of {len(item)}")
                image, xyxy = item[0], item[1] if len(item) > 1 else None
                f = item[2] if len(item) > 2 else focal
            else:
                image, xyxy, f = item, None, focal
            prep = self._prepare(image, xyxy, f, K, bgr)
            pending.append(prep)
            people += prep["n"]
            # flush on people, and on images too: frames without people must not pile up
            # (a long video with few detections would otherwise be held whole in memory)
            if people >= self.batch_size or len(pending) >= self.batch_size:
                yield from self._predict(pending, bgr)
                pending, people = [], 0
        if pending:
            yield from self._predict(pending, bgr)
