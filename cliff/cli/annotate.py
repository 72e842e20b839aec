"""`cliff annotate`: SMPL pseudo ground truth from 2D keypoints (see cliff.annotate)."""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "annotate", help="SMPL pseudo ground truth from 2D keypoints (CLIFF annotator)",
        description="Run CLIFF on every annotated person, refine each against its 2D keypoints "
                    "with the full-frame camera, and write the released pseudo-GT layout "
                    "(imgname, center, scale, part, pose, shape, global_t, focal_l, S, fit_*) "
                    "to an .npz. The output is written atomically at the end.")
    p.add_argument("--images", required=True, help="directory the keypoint file's image names are relative to")
    p.add_argument("--keypoints", required=True,
                   help="COCO-style JSON (annotations with keypoints [x,y,v]*K, image_id/file_name, "
                        "optional bbox) or .npz (imgname, keypoints (N,K,3), optional boxes (N,4) xyxy)")
    p.add_argument("--ckpt", required=True, help="CLIFF checkpoint (.pt/.pth/.safetensors)")
    p.add_argument("--smpl", required=True, help="SMPL model (.pkl or .npz)")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: image diagonal)")
    p.add_argument("--loss", choices=("full", "crop"), default="full",
                   help="refinement camera: full frame (CLIFF) or crop (HMR-style ablation)")
    p.add_argument("--refine", choices=("fit", "finetune", "finetune+fit"), default="fit",
                   help="step 3: per-person fit (default), the paper's fine-tuning of the regressor "
                        "on the whole keypoint set (backbone frozen), or fine-tuning then the fit")
    p.add_argument("--finetune-epochs", type=int, default=20, help="fine-tuning epochs (Adam)")
    p.add_argument("--finetune-rank", type=int, default=16,
                   help="rank of the fine-tuned update of the regressor's feature block")
    p.add_argument("--max-iter", type=int, default=30, help="Levenberg-Marquardt iterations per person")
    p.add_argument("--robust", choices=("gm", "huber", "none"), default="gm", help="robust 2D loss")
    p.add_argument("--robust-scale", type=float, default=3.0,
                   help="the robust loss's scale in keypoint sigmas (1 %% of the box): Geman-McClure "
                        "caps a keypoint's cost at its square; 4 leaves fewer labels far from "
                        "their keypoints with the pose and upright priors, and makes more people "
                        "worse without them (docs/annotate.md round 14)")
    p.add_argument("--far-scale", type=float, default=4.0,
                   help="the guard's far pass: a person whose estimate missed its keypoints by "
                        "more than 10 %% of the box and whose result still misses them is fitted "
                        "again at this robust scale, and that result kept (0 = off; "
                        "docs/annotate.md round 15)")
    p.add_argument("--tighten", default="auto", metavar="auto|off|FACTOR",
                   help="the guard's first pass fits with the start-centred root and pose priors "
                        "FACTOR times stronger (trusting the estimate), and fits again at the "
                        "given strength only the people that pass leaves more than --restart-rel "
                        "from their keypoints; auto: 2 without --pose-prior, off with it "
                        "(docs/annotate.md round 16)")
    p.add_argument("--min-keypoints", type=int, default=4,
                   help="skip people with fewer keypoints of confidence > 0")
    p.add_argument("--no-guard", action="store_true",
                   help="fit without the do-no-harm guard: one start, no acceptance test (the "
                        "root prior stays 30; docs/annotate.md, 'Do no harm')")
    p.add_argument("--starts", choices=("auto", "all", "one"), default="auto",
                   help="re-starts of the guard: 'auto' (people whose fit misses the keypoints by "
                        "more than --restart-rel of the box, or did not converge), 'all', 'one' (none)")
    p.add_argument("--restart-rel", type=float, default=0.02,
                   help="re-start threshold: mean reprojection error as a fraction of the box height")
    p.add_argument("--tilt-deg", type=float, default=0.0,
                   help="also re-start from the root tilted by +-this many degrees about the "
                        "camera's x and y axes (0 = off; e.g. 35 with --starts all)")
    p.add_argument("--depth-range", type=float, default=2.0, metavar="FACTOR",
                   help="depth rule: no label nearer or farther than this factor of the "
                        "estimate's depth, which the person's box fixes (default 2; 0 = off; "
                        "docs/annotate.md 'Do no harm')")
    p.add_argument("--w-depth", type=float, default=25.0,
                   help="weight of the depth prior w ln(z / z_estimate)^2 in the fit: 1 / sigma^2 "
                        "for a relative spread sigma of the person's depth around the estimate's "
                        "(default 25 = 20 %%; 0 = off; docs/annotate.md round 13)")
    p.add_argument("--pose-prior", default=None, metavar="GMM_PKL",
                   help="population pose prior: SMPLify's gmm_08.pkl (from SPIN's data, SMPLify "
                        "license; docs/annotate.md 'Population pose prior'), added to the fit's "
                        "objective")
    p.add_argument("--w-gmm", type=float, default=0.25,
                   help="weight of --pose-prior's term (default 0.25, chosen on the synthetic "
                        "benchmark's development seed; 1 = the prior read as -2 log density)")
    p.add_argument("--upright-deg", type=float, default=None, metavar="SIGMA_DEG",
                   help="upright root prior: a Gaussian of this sigma (degrees, e.g. 15) on the "
                        "tilt of the body's vertical from the camera's vertical, yaw free "
                        "(people standing, camera roughly level; off by default; "
                        "docs/annotate.md 'Upright root prior')")
    p.add_argument("--w-up", type=float, default=0.35,
                   help="weight of --upright-deg's term (default 0.35, chosen on the synthetic "
                        "benchmark's development seed; 1 = the prior read as -2 log density)")
    p.add_argument("--root-hold", default="auto", metavar="auto|off|GAIN",
                   help="root-hold rule of the guard: also fit with the root held at the estimate "
                        "and keep it unless freeing it lowers the keypoint + population + upright "
                        "terms by more than GAIN; 'auto' (default) = on with gain 1 when "
                        "--upright-deg is given, else off (docs/annotate.md, round 8)")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="drop people whose fit_confidence is below this from the output "
                        "(0 = keep all; 0.5 ~ a predicted PA-MPJPE of 50 mm, docs/annotate.md)")
    p.add_argument("--threads", type=int, default=0, help="threads (0 = all cores)")
    p.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true",
                   help="no progress bar (--no-progress: the former name, still accepted)")
    from ..distributed.cli import add_options  # --ray / --dask (docs/scale.md)
    add_options(p)
    return p


def check_args(args) -> None:
    """Everything that can be checked without reading a file, then that the files exist; all
    before the keypoints, the checkpoint or the SMPL model are loaded."""
    f = args.focal
    if f is not None and not (np.isfinite(f) and f > 0):
        raise ValueError(f"--focal: expected a finite focal length > 0 in pixels, got {f}")
    if args.max_iter < 1:
        raise ValueError(f"--max-iter: expected >= 1, got {args.max_iter}")
    if args.finetune_epochs < 0 or args.finetune_rank < 0:
        raise ValueError("--finetune-epochs and --finetune-rank: expected >= 0")
    if args.min_keypoints < 0:
        raise ValueError(f"--min-keypoints: expected >= 0, got {args.min_keypoints}")
    if not (np.isfinite(args.restart_rel) and args.restart_rel >= 0):
        raise ValueError(f"--restart-rel: expected a finite number >= 0, got {args.restart_rel}")
    if not (np.isfinite(args.tilt_deg) and 0 <= args.tilt_deg <= 180):
        raise ValueError(f"--tilt-deg: expected degrees in [0, 180], got {args.tilt_deg}")
    if not (np.isfinite(args.depth_range) and (args.depth_range == 0 or args.depth_range > 1)):
        raise ValueError(f"--depth-range: expected a factor > 1, or 0 (off), got {args.depth_range}")
    if not (np.isfinite(args.w_depth) and args.w_depth >= 0):
        raise ValueError(f"--w-depth: expected a finite number >= 0, got {args.w_depth}")
    if not (np.isfinite(args.robust_scale) and args.robust_scale > 0):
        raise ValueError(f"--robust-scale: expected a finite number > 0, got {args.robust_scale}")
    if not (np.isfinite(args.far_scale) and args.far_scale >= 0):
        raise ValueError(f"--far-scale: expected a robust scale > 0, or 0 (off), got {args.far_scale}")
    tighten_option(args.tighten)
    if not (np.isfinite(args.w_gmm) and args.w_gmm >= 0):
        raise ValueError(f"--w-gmm: expected a finite number >= 0, got {args.w_gmm}")
    if args.pose_prior is not None and not os.path.isfile(args.pose_prior):
        raise OSError(f"--pose-prior: no such file {args.pose_prior!r}")
    u = args.upright_deg
    if u is not None and not (np.isfinite(u) and u > 0):
        raise ValueError(f"--upright-deg: expected a finite sigma > 0 in degrees, got {u}")
    if not (np.isfinite(args.w_up) and args.w_up >= 0):
        raise ValueError(f"--w-up: expected a finite number >= 0, got {args.w_up}")
    root_hold_option(args.root_hold)
    if not 0 <= args.min_confidence <= 1:
        raise ValueError(f"--min-confidence: expected a number in [0, 1], got {args.min_confidence}")
    if args.threads < 0:
        raise ValueError(f"--threads: expected 0 (all cores) or a positive count, got {args.threads}")
    if not os.path.isdir(args.images):
        raise OSError(f"--images: not a directory: {args.images!r}")
    for opt, path in (("--keypoints", args.keypoints), ("--ckpt", args.ckpt), ("--smpl", args.smpl)):
        if not os.path.isfile(path):
            raise OSError(f"{opt}: no such file {path!r}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output) or not os.path.isdir(out_dir):
        raise OSError(f"-o/--output: expected a file path in an existing directory, got {args.output!r}")


def _auto_off_or_number(text: str, flag: str, expected: str, valid):
    """'auto', 'off' (None) or a finite number for which valid(x) holds (float); ValueError
    naming the flag otherwise."""
    if text in ("auto", "off"):
        return None if text == "off" else "auto"
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not (np.isfinite(x) and valid(x)):
        raise ValueError(f"{flag}: expected 'auto', 'off' or {expected}, got {text!r}")
    return x


def root_hold_option(text: str):
    """--root-hold: 'auto', 'off' (None) or a gain >= 0 (float); ValueError otherwise."""
    return _auto_off_or_number(text, "--root-hold", "a gain >= 0", lambda g: g >= 0)


def tighten_option(text: str):
    """--tighten: 'auto', 'off' (None) or a factor >= 1 (float); ValueError otherwise."""
    return _auto_off_or_number(text, "--tighten", "a factor >= 1", lambda k: k >= 1)


def guard_options(args) -> dict:
    """The do-no-harm guard's flags, the depth prior, the robust scale and the upright prior as
    annotate() options: plain values, so that the --ray/--dask job (cliff.distributed.cli)
    carries the same ones. --no-guard: one start, no acceptance test, no root hold, no far
    pass, no tightened first pass (the depth prior and the robust scale stay)."""
    off = args.no_guard
    return {"starts": "one" if off else args.starts, "accept": not off,
            "restart_rel": args.restart_rel, "tilt_deg": 0.0 if off else args.tilt_deg,
            "root_hold": None if off else root_hold_option(args.root_hold),
            "depth_range": None if off or args.depth_range == 0 else args.depth_range,
            "far_scale": None if off or args.far_scale == 0 else args.far_scale,
            "tighten": None if off else tighten_option(args.tighten),
            "w_depth": args.w_depth, "robust_scale": args.robust_scale,
            **({} if args.upright_deg is None else {"upright_deg": args.upright_deg,
                                                     "w_up": args.w_up})}


def run(args) -> int:
    """Returns 0, or 1 if an input was skipped (missing/unreadable image, annotation with
    NaN keypoints: one line 'cliff: skipped PATH: reason' each); raises (exit status 2 in
    cliff.cli) on bad arguments, unreadable keypoints/checkpoint/SMPL files, or when no person
    could be used."""
    import cliff
    from .. import annotate as ann
    from ..io import load_smpl

    check_args(args)
    cliff.set_num_threads(args.threads)
    entries = ann.load_keypoints(args.keypoints)
    paths = [os.path.join(args.images, name) for name, _, _ in entries]
    from .. import model as model_mod
    model = model_mod.load_model(args.ckpt)
    smpl = load_smpl(args.smpl)
    boxes = [b for _, _, b in entries]
    if all(b is None for b in boxes):
        boxes = None
    elif any(b is None for b in boxes):  # mix: derive the missing ones from the keypoints
        from ..annotate.keypoints import boxes_from_keypoints
        boxes = [b if b is not None else boxes_from_keypoints(np.nan_to_num(k)) for (_, k, b) in entries]
    res = ann.annotate(paths, [k for _, k, _ in entries], model, smpl, boxes=boxes,
                       imgnames=[name for name, _, _ in entries], focal=args.focal,
                       loss=args.loss, min_keypoints=args.min_keypoints,
                       progress=not args.no_progress, output=None,
                       max_iter=args.max_iter, robust=args.robust, refine=args.refine,
                       **guard_options(args), **_prior_options(args),
                       regressor=args.ckpt if args.refine != "fit" else None,
                       finetune_options={"epochs": args.finetune_epochs, "rank": args.finetune_rank})
    keep = res["fit_confidence"] >= args.min_confidence
    dropped = int((~keep).sum())
    if dropped:
        res.update({k: v[keep] for k, v in res.items() if k in ann.annotator.PSEUDO_GT_KEYS
                    or k == "fit_status"})
    ann.annotator.save_npz_atomic(args.output, {k: v for k, v in res.items()
                                                if k not in ("skipped", "input_errors")})
    for i, p, why in res["input_errors"]:
        if p < 0:
            print(f"cliff: skipped {paths[i]}: {why}", file=sys.stderr)
        else:
            print(f"cliff: skipped {args.keypoints}: image {entries[i][0]!r} person {p}: {why}",
                  file=sys.stderr)
    n = len(res["pose"])
    print(f"cliff annotate: {n} people written to {args.output}, {len(res['skipped'])} skipped",
          file=sys.stderr)
    if dropped:
        print(f"  {dropped} people below --min-confidence {args.min_confidence} not written",
              file=sys.stderr)
    if n:
        print(f"  reprojection error (median px): {np.median(res['fit_err_init']):.2f} -> "
              f"{np.median(res['fit_err']):.2f}; converged {res['fit_converged'].mean():.0%}",
              file=sys.stderr)
    reported = {(i, p) for i, p, _ in res["input_errors"]}
    whole = {i for i, p, _ in res["input_errors"] if p < 0}
    others = [s for s in res["skipped"] if s[0] not in whole and s[:2] not in reported]
    for i, p, why in others[:20]:
        print(f"  skipped {entries[i][0]} person {p}: {why}", file=sys.stderr)
    return 1 if res["input_errors"] else 0


def _prior_options(args) -> dict:
    """--pose-prior / --w-gmm as fit options (the file is read once, by the restricted reader)."""
    if args.pose_prior is None:
        return {}
    from ..io import load_pose_prior
    return {"pose_prior": load_pose_prior(args.pose_prior), "w_gmm": args.w_gmm}
