"""The CLIFF annotator: SMPL pseudo ground truth from 2D keypoints (CLIFF idea 3).

Steps (docs/annotate.md):

1. CLIFF predicts every person (boxes from the keypoints when none are given): the implicit
   prior (the pretrained network) and the explicit prior / starting point (its estimate).
2. Refinement against the 2D keypoints with the full-frame camera, by `refine`:
   'fit' (default): per-person Levenberg-Marquardt (cliff.annotate.fit, C) of the 24 joint rotations,
   betas and translation, with a term keeping them close to the CLIFF estimate and a shape prior;
   'finetune' (the paper's step 3): fine-tune the regressor on all people with the backbone
   frozen (cliff.annotate.finetune), then predict everyone with it; 'finetune+fit': both, in that order.
3. Output: the released pseudo-GT layout (imgname, center, scale, part, pose, shape, global_t,
   focal_l, S) plus per-person fit quality, written atomically to an .npz.

Skips (never NaNs in the output): a person with fewer than `min_keypoints` keypoints of
confidence > 0 (after dropping keypoints more than `margin` of the image size outside the
image) or without a usable box is not written; the returned dict lists it in ``skipped`` as
(image index, person index, reason). Unusable inputs are skipped too, like `cliff predict`
skips an unreadable image: an image that is missing or cannot be decoded (all its people), a
person whose keypoints contain NaN/inf; they are also listed in ``input_errors`` as (image
index, person index or -1 for the whole image, reason). If no person could be used because of
such errors, annotate raises (OSError for unreadable images, else ValueError) and writes
nothing. Mismatched counts (boxes vs keypoints) raise ValueError.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from ..io.atomic import save_npz_atomic as _save_npz_atomic
from ..io.images import read_image as _read_rgb

from . import keypoints as kpmod
from .fit import DEFAULT_WEIGHTS, STATUS, FitBody, evaluate, fit_jacobian, fit_people  # noqa: F401
from . import guard
from ..camera import estimate_focal_length
from ..constants import BOX_RESCALE, CROP_FOCAL, CROP_SIZE
from .losses import cam_full_to_crop, crop_camera

REFINE_MODES = ("fit", "finetune", "finetune+fit")
PSEUDO_GT_KEYS = ("imgname", "center", "scale", "part", "pose", "shape", "global_t", "focal_l", "S",
                  "fit_err_init", "fit_err", "fit_iters", "fit_converged", "fit_kp_err",
                  "fit_prior_dist", "fit_start", "fit_confidence", "fit_spread", "fit_root_held",
                  "fit_far_pass", "fit_loosened")
#: People fitted per C call in annotate(refine='fit') (several images batched).
FIT_BATCH = 256
#: fit_options keys that are weights of the objective (the rest: max_iter, tol).
_WEIGHT_KEYS = tuple(DEFAULT_WEIGHTS)


def center_scale(boxes, rescale: float = BOX_RESCALE):
    """Official box -> (center (n,2), scale (n,)) with 4:3 padding (docs/official.md#box); b = 200 * scale.
    (cliff.camera.boxes_to_center_scale on (n,4) float64 boxes.)"""
    from ..camera import boxes_to_center_scale
    return boxes_to_center_scale(np.asarray(boxes, np.float64).reshape(-1, 4), rescale)


def _rotmat_to_aa(R):
    from ..camera import rotmat_to_axis_angle  # the official demo's conversion
    return rotmat_to_axis_angle(np.asarray(R, np.float64))


def refine(body: FitBody, rotmat, betas, transl, keypoints, boxes, img_size, focal=None, *,
           loss: str = "full", crop_size: float = CROP_SIZE, crop_focal: float = CROP_FOCAL,
           starts: str = "auto", accept: bool = True, restart_rel: float = 0.02,
           plausible: float = 0.999, **fit_options) -> dict:
    """Step 2 for n people of images of size img_size.

    rotmat (n,24,3,3), betas (n,K), transl (n,3) metres: initial estimate in the full-frame
    camera (CLIFF's t_full). keypoints (n,M,3) pixels in COCO-17 / part-24 / OpenPose-25 order;
    boxes (n,4) xyxy pixels; img_size (W, H) or (n,2); focal pixels (default image diagonal).
    loss='full' fits with the full-frame camera (CLIFF); loss='crop' with the HMR-style crop
    camera (focal crop_focal * b / crop_size at the box centre; the ablation): its translation
    is converted back to the full frame for the output, its rotations are kept as fitted.
    fit_options go to cliff.annotate.fit.fit_people (e.g. pose_prior=, w_gmm=; upright_deg=
    the upright root prior's sigma in degrees, None = off (default), w_up=; w_depth= the depth
    prior's weight, default 25, 0 = off). starts / accept /
    restart_rel / plausible (and tilt_deg=, root_hold=, torso=, limbs=, parts=, depth_range=,
    far_scale=, tighten= in fit_options): the do-no-harm guard (cliff.annotate.guard.fit_guarded;
    starts='one', accept=False, root_hold=None is the plain fit; root_hold='auto', the default,
    holds the root at the estimate unless freeing it helps, when upright_deg is given;
    far_scale=4, the default, refits a poor estimate still far from its keypoints at that
    robust scale: far_pass (n,) says whose result that is, None = off; tighten='auto', the
    default (2 without pose_prior, off with one), fits first with the start-centred root and
    pose priors that many times stronger and again at the given strength those it leaves far
    from their keypoints: loosened (n,) says whose result that is, None = off). Returns fit_guarded's dict (+ center, scale, focal) where, for
    every loss, err_init / err_final are measured in the FULL image with the real camera, plus
    kp_err (n,M) each keypoint's full-image error in pixels (-1 = not used), prior_dist (n,),
    confidence (n,) in [0, 1] (cliff.annotate.guard.confidence).
    """
    kp = kpmod.check_keypoints(keypoints)
    n = kp.shape[0]
    jidx = kpmod.smplx_index(kpmod.format_of(kp.shape[1]))
    wh = np.broadcast_to(np.asarray(img_size, np.float64), (n, 2))
    f = estimate_focal_length(wh[:, 0], wh[:, 1]) if focal is None else np.broadcast_to(
        np.asarray(focal, np.float64), (n,))
    pp = wh / 2
    center, scale = center_scale(boxes)
    b = 200 * scale
    t0 = np.asarray(transl, np.float64)
    if loss == "full":
        cam_f, cam_c, t_init = f, pp, t0
    elif loss == "crop":
        cam_f, cam_c = crop_camera(center, b, crop_size, crop_focal)
        t_init = cam_full_to_crop(t0, center, b, f, pp, crop_size, crop_focal)
    else:
        raise ValueError(f"loss: expected 'full' or 'crop', got {loss!r}")
    out = guard.fit_guarded(body, rotmat, betas, t_init, kp, jidx, cam_f, cam_c, b, starts=starts,
                            accept=accept, restart_rel=restart_rel, plausible=plausible,
                            **fit_options)
    if loss == "crop":
        tc = out["transl"]
        tz = tc[:, 2] * f / cam_f
        out["transl"] = np.concatenate([tc[:, :2] + (center - pp) * (tz / f)[:, None],
                                        tz[:, None]], 1)
    out.update(center=center, scale=scale, focal=f)
    _full_image_quality(body, out, rotmat, betas, t0, kp, jidx, f, pp, b, plausible, fit_options)
    return out


def _full_image_quality(body, out, rotmat, betas, t0, kp, jidx, f, pp, b, plausible, fit_options):
    """err_init / err_final / kp_err measured in the full image with the real camera (for the
    crop loss too), and the confidence, written into `out` (people with status != 0 keep 0)."""
    w = {k: fit_options[k] for k in _WEIGHT_KEYS if k in fit_options}
    ok = out["status"] == 0
    n = len(ok)
    out["kp_err"] = np.full(kp.shape[:2], -1.0)
    out["confidence"] = np.zeros(n)
    if not ok.any():
        return
    s = lambda a: np.asarray(a, np.float64)[ok]  # noqa: E731
    ref = (body, s(rotmat), s(betas), s(t0), kp[ok], jidx, s(f), s(pp), s(b))
    start = evaluate(*ref, s(rotmat), s(betas), s(t0), **w)
    end = evaluate(*ref, out["rotmat"][ok], out["betas"][ok], out["transl"][ok], **w)
    out["err_init"][ok] = start["err"]
    out["err_final"][ok] = end["err"]
    out["kp_err"][ok] = end["kp_err"]
    used = (kp[ok][..., 2] > 0) & (jidx >= 0)
    out["visible"] = np.zeros(n)
    out["visible"][ok] = used.sum(1) / max(1, int((jidx >= 0).sum()))
    out["confidence"][ok] = guard.confidence(end["err"], s(b), out["prior_dist"][ok],
                                             out["spread"][ok], out["visible"][ok])


def model_joints(body: FitBody, rotmat, betas, transl) -> np.ndarray:
    """The 45 model joints (n,45,3) metres for SMPL parameters (full LBS of the vertex joints)."""
    R = np.asarray(rotmat, np.float64)
    out = np.empty((len(R), 24 + body.vt.shape[0], 3))
    zero = np.zeros((24, 3))
    for i in range(len(R)):
        out[i] = fit_jacobian(body, R[i], zero, betas[i], transl[i], 1.0, (0, 0))[0]
    return out


def pseudo_gt_record(body: FitBody, imgname, fitted: dict, keypoints) -> dict:
    """Arrays of the released pseudo-GT layout for n fitted people (see module docs)."""
    n = len(fitted["rotmat"])
    part = kpmod.to_part24(keypoints)
    J = model_joints(body, fitted["rotmat"], fitted["betas"], fitted["transl"])
    S = np.zeros((n, 24, 4))
    m = kpmod.PART24_TO_SMPLX >= 0
    S[:, m, :3] = J[:, kpmod.PART24_TO_SMPLX[m]] - J[:, :1]
    S[:, m, 3] = 1.0
    return {
        "imgname": np.asarray(imgname, dtype=str).reshape(n),
        "center": fitted["center"], "scale": fitted["scale"], "part": part,
        "pose": _rotmat_to_aa(fitted["rotmat"]).reshape(n, 72),
        "shape": fitted["betas"][:, :10], "global_t": fitted["transl"],
        "focal_l": np.asarray(fitted["focal"], np.float64).reshape(n), "S": S,
        "fit_err_init": fitted["err_init"], "fit_err": fitted["err_final"],
        "fit_iters": fitted["iterations"], "fit_converged": fitted["converged"],
        "fit_kp_err": _values_to_part24(fitted["kp_err"]),
        "fit_prior_dist": np.asarray(fitted["prior_dist"], np.float64),
        "fit_start": np.asarray(fitted["start"], np.int64),
        "fit_confidence": np.asarray(fitted["confidence"], np.float64),
        "fit_spread": np.asarray(fitted["spread"], np.float64),
        "fit_root_held": np.asarray(fitted.get("root_held", np.zeros(n, bool)), bool).reshape(n),
        "fit_far_pass": np.asarray(fitted.get("far_pass", np.zeros(n, bool)), bool).reshape(n),
        "fit_loosened": np.asarray(fitted.get("loosened", np.zeros(n, bool)), bool).reshape(n),
    }


def _values_to_part24(values) -> np.ndarray:
    """Per-keypoint values (n, K) in the input's format -> (n, 24) in the part-24 order; slots
    without a source keypoint get -1 (as unused keypoints)."""
    v = np.asarray(values, np.float64)
    fmt = kpmod.format_of(v.shape[1])
    if fmt == "part24":
        return v.copy()
    table = kpmod.COCO17_TO_PART24 if fmt == "coco17" else kpmod.OPENPOSE25_TO_PART24
    out = np.full((len(v), 24), -1.0)
    src = np.flatnonzero(table >= 0)
    out[:, table[src]] = v[:, src]
    return out


def save_npz_atomic(path: str, arrays: dict) -> None:
    """Write an .npz atomically (cliff.io.atomic): `path` keeps its old content or gets the
    complete new one; an interrupt removes the temporary file."""
    _save_npz_atomic(path, arrays)


def _image_size(image) -> tuple[int, int]:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"images: expected (H, W, 3) RGB arrays, got shape {a.shape}")
    return a.shape[1], a.shape[0]


def read_image(path) -> np.ndarray:
    """RGB uint8 (H, W, 3) from an image file (cliff.images.read_image); errors name `images`."""
    if not os.path.isfile(path):
        raise OSError(f"images: no such file {os.fspath(path)!r}")
    try:
        return _read_rgb(path)
    except OSError as exc:
        raise OSError(f"images: cannot decode {os.fspath(path)!r} ({exc})") from exc


def _image_error(image, i) -> tuple[np.ndarray | None, str | None]:
    """(RGB image, None) or (None, reason) for images[i]: a path that is missing or cannot be
    decoded, or an array that is not (H, W, 3), is an input error (the image is skipped)."""
    if isinstance(image, (str, os.PathLike)):
        if not os.path.isfile(image):
            return None, "no such image file"
        try:
            img = _read_rgb(image)
        except OSError as exc:
            msg = str(exc)
            p = os.fspath(image)
            return None, msg[len(p) + 2:] if msg.startswith(p + ": ") else msg
    else:
        img = np.asarray(image)
    try:
        _image_size(img)
    except ValueError as exc:
        return None, f"images[{i}]: {str(exc).split(': ', 1)[1]}"
    return img, None


def clean_keypoints(kp, img_size, margin: float = 0.1):
    """Set to confidence 0 the keypoints farther than `margin` * image size outside the image
    (documented skip of out-of-image keypoints). kp (n,K,3) float64 -> (new kp, number dropped)."""
    kp = kp.copy()
    W, H = img_size
    x, y = kp[..., 0], kp[..., 1]
    out = (x < -margin * W) | (x > (1 + margin) * W) | (y < -margin * H) | (y > (1 + margin) * H)
    out &= kp[..., 2] > 0
    kp[..., 2][out] = 0.0
    return kp, int(out.sum())


def annotate(images: Sequence, keypoints: Sequence, model=None, smpl=None, *,
             boxes: Sequence | None = None, imgnames: Sequence[str] | None = None, focal=None,
             predictor: Callable | None = None, loss: str = "full", min_keypoints: int = 4,
             margin: float = 0.1, progress: bool = True, output: str | None = None,
             num_betas: int = 10, refine: str = "fit", regressor=None,
             finetune_options: dict | None = None, **fit_options) -> dict:
    """Annotate people in images from their 2D keypoints.

    images: sequence of image file paths or RGB uint8 (H, W, 3) arrays.
    keypoints: per image an array (n_i, K, 3) [x, y, conf] pixels, K = 17 (COCO), 24 (part) or
      25 (OpenPose). boxes: optional per image (n_i, 4) xyxy pixels (default: from keypoints).
    model: a CLIFF model (cliff.load_model) used by the default predictor; or pass
      predictor(image (H,W,3) uint8, boxes (n,4), focal float) -> dict with rotmat (n,24,3,3),
      betas (n,>=10), t_full (n,3) (the full-frame translation) — step 1.
    smpl: SMPL arrays (cliff.io.load_smpl dict, or a path to load) or a FitBody.
    focal: pixels (default: each image's diagonal, as CLIFF's demo).
    loss: 'full' (CLIFF) or 'crop' (HMR-style ablation). fit_options: cliff.annotate.fit.fit_people
      (including pose_prior = SMPLify's gmm_08.pkl path or a cliff.io.PosePrior, and w_gmm;
      upright_deg = the upright root prior's sigma in degrees (None = off), and w_up).
    output: if given, the .npz path written atomically.
    refine: step 3. 'fit' (default): per-person LM fit of the CLIFF estimate. 'finetune': the
      paper's refinement: fine-tune the regressor on all people (backbone frozen, features cached;
      cliff.annotate.finetune) with the keypoints and the full-frame loss (or the crop loss if loss='crop'),
      then run the fine-tuned regressor on every person's features (the pseudo-GT).
      'finetune+fit': that, then the per-person fit from the fine-tuned estimate.
      The fine-tune modes need `regressor` (the checkpoint path, its state dict or a
      cliff.annotate.finetune.Regressor) and a predictor that also returns features (n,2048) and
      bbox_info (n,3) (the default one does); finetune_options go to cliff.annotate.finetune.finetune.
      fit_err_init is then the raw CLIFF estimate's error; with 'finetune', fit_iters is 0.
    Returns the pseudo-GT dict (PSEUDO_GT_KEYS plus 'fit_status'), 'skipped' (list of
    (image index, person index, reason) for every person not written) and 'input_errors' (list
    of (image index, person index or -1 = whole image, reason): images that are missing, cannot
    be decoded or are not (H, W, 3), people whose keypoints contain NaN/inf; these are skipped
    and the rest is processed). If every person was lost to input errors, raises OSError
    (unreadable images) or ValueError and writes nothing.
    Arguments (refine, loss, focal, min_keypoints, margin) are checked before anything is
    loaded; negative confidences raise ValueError naming keypoints[i][p, k, 2].
    """
    if refine not in REFINE_MODES:
        raise ValueError(f"refine: expected one of {REFINE_MODES}, got {refine!r}")
    if loss not in ("full", "crop"):
        raise ValueError(f"loss: expected 'full' or 'crop', got {loss!r}")
    focal = check_focal(focal)
    if isinstance(min_keypoints, bool) or not isinstance(min_keypoints, (int, np.integer)) or min_keypoints < 0:
        raise ValueError(f"min_keypoints: expected an integer >= 0, got {min_keypoints!r}")
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin: expected a finite number >= 0 (fraction of the image size), got {margin!r}")
    reg = None
    if refine != "fit":
        if regressor is None:
            raise ValueError(f"regressor: refine={refine!r} needs the CLIFF checkpoint (path, state "
                             "dict or cliff.finetune.Regressor) to rebuild the regressor")
        from .finetune import load_regressor
        reg = load_regressor(regressor)
    if fit_options.get("pose_prior") is not None:  # read a gmm_08.pkl path once
        from .fit import as_pose_prior
        fit_options["pose_prior"] = as_pose_prior(fit_options["pose_prior"])
    from .fit import DEFAULT_W_UP, upright_options
    upright_options(fit_options.get("upright_deg"), fit_options.get("w_up", DEFAULT_W_UP))  # checks
    body = _as_body(smpl, num_betas)
    if predictor is None:
        if model is None:
            raise ValueError("annotate: pass model (a CLIFF model) or predictor")
        predictor = default_predictor(model)
    if len(images) != len(keypoints):
        raise ValueError(f"keypoints: expected one entry per image ({len(images)}), got {len(keypoints)}")
    if boxes is not None and len(boxes) != len(images):
        raise ValueError(f"boxes: expected one entry per image ({len(images)}), got {len(boxes)}")
    if imgnames is None:
        imgnames = [im if isinstance(im, (str, os.PathLike)) else f"image_{i:06d}"
                    for i, im in enumerate(images)]
    records, skipped, errors = [], [], []
    it = range(len(images))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(images), unit="img", desc="cliff annotate")
    preps, pending = [], []

    def flush():
        _refine_batch(body, pending, loss, fit_options)
        for prep in pending:
            rec, skip = _finish_image(body, prep, loss, True, fit_options)
            skipped.extend(skip)
            if rec is not None:
                records.append(rec)
        pending.clear()

    try:
        for i in it:
            prep, skip, err = _prepare_image(body, images[i], keypoints[i],
                                             None if boxes is None else boxes[i], imgnames[i], focal,
                                             predictor, min_keypoints, margin, i, refine != "fit")
            skipped.extend(skip)
            errors.extend(err)
            if prep is not None and refine == "fit":
                # fit people of several images in one call (OpenMP over people: per-image
                # batches of a few people leave threads idle)
                pending.append(prep)
                if sum(len(p["keep"]) for p in pending) >= FIT_BATCH:
                    flush()
            elif prep is not None:
                preps.append(prep)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(people=sum(len(r["pose"]) for r in records), skipped=len(skipped))
        if pending:
            flush()
    finally:
        if bar is not None:
            bar.close()
    if refine != "fit" and preps:
        _apply_finetune(body, reg, preps, loss, finetune_options or {})
        for prep in preps:
            rec, skip = _finish_image(body, prep, loss, refine == "finetune+fit", fit_options)
            skipped.extend(skip)
            if rec is not None:
                records.append(rec)
    if errors:
        _raise_if_nothing_usable(images, keypoints, errors)
    result = _concat(records)
    result["skipped"] = skipped
    result["input_errors"] = errors
    if output is not None:
        save_npz_atomic(output, {k: v for k, v in result.items() if k not in ("skipped", "input_errors")})
    return result


def check_focal(focal):
    """None (each image's diagonal) or a finite focal length > 0 in pixels, as float."""
    if focal is None:
        return None
    try:
        f = float(focal)
    except (TypeError, ValueError):
        raise TypeError(f"focal: expected a number of pixels or None, got {focal!r}") from None
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"focal: expected a finite focal length > 0 in pixels, got {focal!r}")
    return f


def _raise_if_nothing_usable(images, keypoints, errors):
    """Like `cliff predict` with no readable input: if every person was lost to an input error,
    that is an error, not an empty result."""
    def count(k):
        a = np.asarray(k)
        return 0 if a.size == 0 else 1 if a.ndim == 2 else len(a)
    people = sum(count(k) for k in keypoints)
    whole = {i for i, p, _ in errors if p < 0}
    lost = sum(count(keypoints[i]) for i in whole) + sum(1 for _, p, _ in errors if p >= 0)
    if lost < people:
        return
    kind = OSError if whole else ValueError
    i, p, why = errors[0]
    name = images[i] if isinstance(images[i], (str, os.PathLike)) else f"images[{i}]"
    first = f"{os.fspath(name)}: {why}" if p < 0 else f"keypoints[{i}] person {p}: {why}"
    raise kind(f"no usable input: all {len(errors)} image(s)/annotation(s) with people were "
               f"skipped (first: {first})")


def load_keypoints(path) -> list:
    """Read a keypoints file for annotate(): cliff.annotate.keypoints.load_keypoint_file(path,
    strict=False) -> [(image file name, keypoints (n,K,3) float64, boxes (n,4) xyxy or None)].
    One bad person does not reject the file: people with NaN/inf keypoints are kept so that
    annotate() skips them and reports them in ``input_errors``; JSON confidences are clipped to
    [0, 1], negative .npz confidences become 0."""
    return kpmod.load_keypoint_file(path, strict=False)


def _as_body(smpl, num_betas):
    if isinstance(smpl, FitBody):
        return smpl
    if smpl is None:
        raise ValueError("smpl: expected SMPL arrays (cliff.io.load_smpl), a path, or a FitBody")
    if isinstance(smpl, (str, os.PathLike)):
        from ..io import load_smpl  # branch io
        smpl = load_smpl(smpl)
    return FitBody.from_smpl(smpl, num_betas)


def _prepare_image(body, image, kp, bx, name, focal, predictor, min_keypoints, margin, i,
                   need_features):
    """Checks, skips and step 1 for one image -> (dict or None, skipped, input errors)."""
    skipped, errors = [], []
    kp = np.asarray(kp, np.float64)
    if kp.size == 0:
        return None, skipped, errors
    if kp.ndim == 2:
        kp = kp[None]
    kp = kp.copy()
    bad = np.zeros(len(kp), bool)
    if kp.ndim == 3:  # people with NaN/inf keypoints are input errors (skipped), not fatal
        bad = ~np.isfinite(kp).all((1, 2))
        kp[bad] = 0.0
        neg = np.argwhere(kp[..., 2] < 0)
        if len(neg):
            p, k = neg[0]
            raise ValueError(f"keypoints[{i}][{p}, {k}, 2] = {kp[p, k, 2]:g}: confidences must be "
                             ">= 0 (0 = keypoint ignored; files are clipped to 0 when read)")
    kp = kpmod.check_keypoints(kp, f"keypoints[{i}]")
    img, why = _image_error(image, i)
    if img is None:
        errors.append((i, -1, why))
        skipped.extend((i, p, f"image: {why}") for p in range(len(kp)))
        return None, skipped, errors
    W, H = _image_size(img)
    kp, _ = clean_keypoints(kp, (W, H), margin)
    if bx is None:
        bx = kpmod.boxes_from_keypoints(kp)
    bx = np.asarray(bx, np.float64).reshape(-1, 4) if np.size(bx) else np.zeros((0, 4))
    if len(bx) != len(kp):
        raise ValueError(f"boxes[{i}]: {len(bx)} boxes for {len(kp)} people's keypoints")
    for p in np.flatnonzero(bad):
        why = "keypoints contain NaN or infinite values"
        errors.append((i, int(p), why))
        skipped.append((i, int(p), why))
    keep = []
    for p in range(len(kp)):
        nvis = int((kp[p, :, 2] > 0).sum())
        if bad[p]:
            continue
        if nvis < min_keypoints:
            skipped.append((i, p, f"{nvis} keypoints with confidence > 0 (< {min_keypoints})"))
        elif not (np.isfinite(bx[p]).all() and bx[p, 2] > bx[p, 0] and bx[p, 3] > bx[p, 1]):
            skipped.append((i, p, "no usable box"))
        else:
            keep.append(p)
    if not keep:
        return None, skipped, errors
    keep = np.array(keep)
    f = estimate_focal_length(W, H) if focal is None else float(focal)
    pred = predictor(img, bx[keep], f)
    try:
        rot = np.asarray(pred["rotmat"], np.float64).reshape(len(keep), 24, 3, 3)
        betas = np.asarray(pred["betas"], np.float64).reshape(len(keep), -1)[:, :body.num_betas]
        t = np.asarray(pred["t_full"], np.float64).reshape(len(keep), 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"predictor: expected a dict with rotmat ({len(keep)},24,3,3), betas "
                         f"({len(keep)},10) and t_full ({len(keep)},3) for image {i}: {exc}") from exc
    if betas.shape[1] != body.num_betas:
        raise ValueError(f"predictor: betas have {betas.shape[1]} components, the body needs "
                         f"{body.num_betas}")
    fin = np.isfinite(rot).all((1, 2, 3)) & np.isfinite(betas).all(1) & np.isfinite(t).all(1) & (t[:, 2] > 0)
    for p in keep[~fin]:
        skipped.append((i, int(p), "non-finite or behind-camera initial estimate"))
    prep = {"i": i, "name": name, "kp": kp, "bx": bx, "W": W, "H": H, "f": f}
    if need_features:
        try:
            feats = np.asarray(pred["features"], np.float64).reshape(len(fin), -1)
            binfo = np.asarray(pred["bbox_info"], np.float64).reshape(len(fin), 3)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"predictor: refine with fine-tuning needs features ({len(fin)},2048) "
                             f"and bbox_info ({len(fin)},3) for image {i}: {exc}") from exc
        cb = pred.get("boxes_cb")
        if cb is None:
            c, sc = center_scale(bx[keep])
            cb = np.concatenate([c, 200 * sc[:, None]], 1)
        cb = np.asarray(cb, np.float64).reshape(len(fin), 3)
        prep.update(features=feats[fin], bbox_info=binfo[fin], cb=cb[fin])
    keep, rot, betas, t = keep[fin], rot[fin], betas[fin], t[fin]
    if not len(keep):
        return None, skipped, errors
    prep.update(keep=keep, rot=rot, betas=betas, t=t)
    return prep, skipped, errors


def _reproj_err(body, rot, betas, t, kp, f, pp):
    """Confidence-weighted mean reprojection error (px) per person, as the fitter reports."""
    jidx = kpmod.smplx_index(kpmod.format_of(kp.shape[1]))
    J = model_joints(body, rot, betas, t)[:, np.maximum(jidx, 0)]
    uv = f * J[..., :2] / J[..., 2:] + np.asarray(pp, np.float64)
    c = kp[..., 2] * (jidx >= 0)
    return (c * np.linalg.norm(uv - kp[..., :2], axis=-1)).sum(1) / np.maximum(c.sum(1), 1e-9)


def _apply_finetune(body, reg, preps, loss, options):
    """Step 3 (paper): fine-tune the regressor on everyone, then replace each prep's estimate by
    the fine-tuned regressor's prediction (step 4, on the cached features)."""
    from . import finetune as ftm
    kps = [p["kp"][p["keep"]] for p in preps]
    K = {k.shape[1] for k in kps}
    if len(K) != 1:
        raise ValueError(f"keypoints: fine-tuning needs one keypoint format for all images, got K in {sorted(K)}")
    kp = np.concatenate(kps)
    jidx = kpmod.smplx_index(kpmod.format_of(kp.shape[1]))
    cat = lambda key: np.concatenate([p[key] for p in preps])  # noqa: E731
    cb, focal = cat("cb"), np.concatenate([np.full(len(p["keep"]), p["f"]) for p in preps])
    wh = np.concatenate([np.tile([p["W"], p["H"]], (len(p["keep"]), 1)) for p in preps]).astype(np.float64)
    res = ftm.finetune(reg, body, cat("features"), cat("bbox_info"), kp, jidx, cb[:, :2], cb[:, 2],
                       focal, wh, loss=loss, **options)
    rot, betas, cam = ftm.states_to_smpl(res.regressor.run(cat("features"), cat("bbox_info")))
    t, _ = ftm.camera_translation(cam, cb[:, :2], cb[:, 2], focal, wh / 2, "full")
    s = 0
    for p in preps:
        m = len(p["keep"])
        kpi = p["kp"][p["keep"]]
        p["err_cliff"] = _reproj_err(body, p["rot"], p["betas"], p["t"], kpi, p["f"], (p["W"] / 2, p["H"] / 2))
        p["rot"], p["betas"], p["t"] = rot[s:s + m], betas[s:s + m], t[s:s + m]
        s += m


def _refine_batch(body, preps, loss, fit_options):
    """Step 3 (fit) for the people of several images in one refine call per keypoint format;
    each prep gets its slice of the result as prep['fitted']."""
    by_k = {}
    for p in preps:
        by_k.setdefault(p["kp"].shape[1], []).append(p)
    for group in by_k.values():
        m = [len(p["keep"]) for p in group]
        cat = lambda f: np.concatenate([f(p) for p in group])  # noqa: E731
        out = refine(body, cat(lambda p: p["rot"]), cat(lambda p: p["betas"]), cat(lambda p: p["t"]),
                     cat(lambda p: p["kp"][p["keep"]]), cat(lambda p: p["bx"][p["keep"]]),
                     cat(lambda p: np.tile([p["W"], p["H"]], (len(p["keep"]), 1))).astype(np.float64),
                     cat(lambda p: np.full(len(p["keep"]), p["f"], np.float64)), loss=loss,
                     **fit_options)
        s = 0
        for p, k in zip(group, m):
            p["fitted"] = {key: (v[s:s + k] if isinstance(v, np.ndarray) and v.ndim and len(v) == sum(m)
                                 else v) for key, v in out.items()}
            s += k


def _finish_image(body, prep, loss, fit, fit_options):
    """Step 3 per person (fit) or nothing (fine-tuned estimate as is), then the record."""
    i, name, kp, bx, keep = prep["i"], prep["name"], prep["kp"], prep["bx"], prep["keep"]
    W, H, f = prep["W"], prep["H"], prep["f"]
    rot, betas, t = prep["rot"], prep["betas"], prep["t"]
    skipped = []
    if fit and "fitted" in prep:
        out = prep.pop("fitted")
    elif fit:
        out = refine(body, rot, betas, t, kp[keep], bx[keep], (W, H), f, loss=loss, **fit_options)
    else:
        center, scale = center_scale(bx[keep])
        n = len(keep)
        ok = np.isfinite(t).all(1) & (t[:, 2] > 0)
        err = np.zeros(n)
        if ok.any():
            err[ok] = _reproj_err(body, rot[ok], betas[ok], t[ok], kp[keep][ok], f, (W / 2, H / 2))
        out = {"rotmat": rot, "betas": betas, "transl": t, "err_init": err, "err_final": err.copy(),
               "iterations": np.zeros(n, np.int64), "converged": np.ones(n, bool),
               "status": np.where(ok, 0, 2).astype(np.int64), "center": center, "scale": scale,
               "focal": np.full(n, f)}
        out.update(start=np.zeros(n, np.int64), prior_dist=np.zeros(n), spread=np.full(n, -1.0))
        _full_image_quality(body, out, rot, betas, t, kp[keep], kpmod.smplx_index(
            kpmod.format_of(kp.shape[1])), np.full(n, f), np.tile([W / 2, H / 2], (n, 1)),
            200 * scale, fit_options.get("plausible", 0.999), fit_options)
    if "err_cliff" in prep:
        out["err_init"] = prep["err_cliff"]
    ok = out["status"] == 0
    for p, s in zip(keep[~ok], out["status"][~ok]):
        skipped.append((i, int(p), STATUS.get(int(s), "fit failed")))
    if not ok.any():
        return None, skipped
    sel = {k: (v[ok] if isinstance(v, np.ndarray) and v.ndim and len(v) == len(ok) else v)
           for k, v in out.items()}
    rec = pseudo_gt_record(body, [os.fspath(name)] * int(ok.sum()), sel, kp[keep[ok]])
    rec["fit_status"] = sel["status"]
    finite = np.ones(int(ok.sum()), bool)
    for k, v in rec.items():
        if v.dtype.kind == "f":
            finite &= np.isfinite(v.reshape(len(v), -1)).all(1)
    for p in keep[ok][~finite]:
        skipped.append((i, int(p), "non-finite result"))
    if not finite.all():
        rec = {k: v[finite] for k, v in rec.items()}
    return rec, skipped


def _concat(records):
    empty = {"imgname": np.zeros(0, str), "center": np.zeros((0, 2)), "scale": np.zeros(0),
             "part": np.zeros((0, 24, 3)), "pose": np.zeros((0, 72)), "shape": np.zeros((0, 10)),
             "global_t": np.zeros((0, 3)), "focal_l": np.zeros(0), "S": np.zeros((0, 24, 4)),
             "fit_err_init": np.zeros(0), "fit_err": np.zeros(0),
             "fit_iters": np.zeros(0, np.int64), "fit_converged": np.zeros(0, bool),
             "fit_kp_err": np.zeros((0, 24)), "fit_prior_dist": np.zeros(0),
             "fit_start": np.zeros(0, np.int64), "fit_confidence": np.zeros(0),
             "fit_spread": np.zeros(0), "fit_root_held": np.zeros(0, bool),
             "fit_far_pass": np.zeros(0, bool), "fit_loosened": np.zeros(0, bool),
             "fit_status": np.zeros(0, np.int64)}
    if not records:
        return empty
    return {k: np.concatenate([r[k] for r in records]) for k in empty}


def default_predictor(model) -> Callable:
    """Step 1 with a CLIFF model (cliff.load_model): official crops of the boxes (cliff.crop),
    then model.predict(crops, [cx, cy, b], (W, H), focal); returns rotmat, betas, t_full."""
    if not hasattr(model, "predict"):
        raise TypeError(f"model: expected a CLIFF model with .predict (cliff.load_model), got "
                        f"{type(model).__name__}")

    def predict(image, boxes, focal):
        from ..crop import crop
        c = crop(image, np.asarray(boxes, np.float64))
        out = model.predict(c["crops"], c["boxes"], (image.shape[1], image.shape[0]), focal)
        res = {"rotmat": out["rotmat"], "betas": out["betas"], "t_full": out["t_full"],
               "boxes_cb": c["boxes"]}
        for k in ("features", "bbox_info"):  # for refine='finetune' (cached, frozen backbone)
            if k in out:
                res[k] = out[k]
        return res

    return predict
