"""`cliff evaluate 3dpw|h36m|emdb`: the paper's benchmark protocols (see cliff.evaluate)."""
from __future__ import annotations

import argparse
import os
import sys


def _focal(s: str):
    if s in ("auto", "diagonal", "intrinsics"):
        return s
    try:
        v = float(s)
    except ValueError:
        v = float("nan")
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError("expected auto, diagonal, intrinsics or a focal length > 0 in pixels")
    return v


def _positive(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def _rescale(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        v = float("nan")
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {s}")
    return v


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="benchmark protocols: 3DPW, Human3.6M (P2), EMDB",
        description="Evaluate a CLIFF checkpoint with the paper's protocols on your copies of "
                    "the benchmarks (licensed data: bring your own). Writes results.json, "
                    "results.md and per-sequence files (resumable) to the output folder and "
                    "prints the table. See docs/evaluate.md.")
    p.add_argument("benchmark", choices=("3dpw", "h36m", "emdb"))
    p.add_argument("--data", required=True,
                   help="3dpw_test.npz | h36m_valid_protocol2.npz | an EMDB *_data.pkl or EMDB root")
    p.add_argument("--images", help="image folder the file's names are relative to "
                                    "(EMDB: its root; default: next to each pkl)")
    p.add_argument("--ckpt", required=True, help="CLIFF checkpoint")
    p.add_argument("--smpl-dir", required=True,
                   help="folder with SMPL_NEUTRAL/MALE/FEMALE .pkl (or .npz) and J_regressor_h36m.npy "
                        "(or in its parent)")
    p.add_argument("--J-regressor", dest="J_regressor", help="J_regressor_h36m.npy (17, 6890)")
    p.add_argument("--sequences", help="3DPW: sequenceFiles/test (camera intrinsics, keypoint boxes)")
    p.add_argument("-o", "--output", help="output folder (default: cliff-eval-<benchmark>)")
    p.add_argument("--limit", type=_positive, help="evaluate only the first N people (quick look)")
    p.add_argument("--focal", type=_focal, default="auto",
                   help="auto (intrinsics when known, else the image diagonal) | diagonal | "
                        "intrinsics | pixels")
    p.add_argument("--boxes", choices=("file", "keypoints"), default="file",
                   help="file: the dataset's center/scale (EMDB: its boxes); keypoints: 3DPW "
                        "boxes from projected ground-truth joints (needs --sequences)")
    p.add_argument("--box-rescale", type=_rescale,
                   help="crop enlargement (default 1.0 for center/scale, 1.2 keypoints, 1.1 EMDB)")
    p.add_argument("--half-res", action="store_true", help="run on half-resolution images")
    p.add_argument("--pelvis", choices=("hips", "h36m"), default="hips",
                   help="3DPW/H36M root: midpoint of the hips (default) or the regressed H36M pelvis")
    p.add_argument("--subset", choices=("emdb1", "all"), default="emdb1", help="EMDB sequences")
    p.add_argument("--backbone", choices=("hr48", "res50"), default=None)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--batch-size", type=_positive, default=16, help="people per network call")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args) -> int:
    """Runs the benchmark and prints the Markdown table; raises (exit status 2 in cliff.cli) on
    bad arguments, missing or malformed files."""
    import cliff
    from ..evaluate import evaluate, markdown_table

    if args.threads < 0:
        raise ValueError(f"--threads: expected 0 (all cores) or a positive count, got {args.threads}")
    cliff.set_num_threads(args.threads)
    out = args.output or f"cliff-eval-{args.benchmark}"
    res = evaluate(args.benchmark, args.data, args.images, args.ckpt, args.smpl_dir,
                   output=out, J_regressor=args.J_regressor, sequences=args.sequences,
                   limit=args.limit, batch_size=args.batch_size, backbone=args.backbone,
                   precision=args.precision, focal=args.focal, boxes=args.boxes,
                   box_rescale=args.box_rescale, half_res=args.half_res, pelvis=args.pelvis,
                   subset=args.subset, progress=not args.quiet)
    print(markdown_table(res, per_sequence=False))
    print(f"cliff evaluate: {res['frames']} people -> {os.path.abspath(out)}/results.json, results.md",
          file=sys.stderr)
    return 0
