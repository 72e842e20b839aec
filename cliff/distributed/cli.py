"""`cliff predict ... --ray [ADDRESS]` / `--dask SCHEDULER`, and the same for `cliff annotate`:
the command line's hooks into the distributed driver (docs/scale.md)."""
from __future__ import annotations

import argparse
import os
import sys

LOCAL = "local"  # --ray with no address: the running Ray, or a new local one


def add_options(p: argparse.ArgumentParser) -> None:
    """--ray / --dask and the sharding options, added to a subcommand's parser."""
    g = p.add_argument_group("distributed (docs/scale.md)")
    eng = g.add_mutually_exclusive_group()
    eng.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                     help="run the shards on Ray (ADDRESS: 'auto', ray://host:10001; none: local Ray)")
    eng.add_argument("--dask", default=None, metavar="SCHEDULER",
                     help="run the shards on a dask.distributed scheduler (tcp://host:8786)")
    g.add_argument("--shard-size", type=int, default=None,
                   help="inputs per shard (default: predict 64 images / 256 video frames, annotate 64 images)")
    g.add_argument("--workers", type=int, default=None,
                   help="Ray actors (default: cluster CPUs / --cpus-per-worker)")
    g.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="CPUs each Ray actor reserves; its thread count (default 1)")


def wanted(args: argparse.Namespace) -> bool:
    return getattr(args, "ray", None) is not None or getattr(args, "dask", None) is not None


def engine_for(args: argparse.Namespace):
    threads = getattr(args, "threads", 0) or None
    if args.ray is not None:
        from .ray_engine import RayEngine

        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers: expected >= 1, got {args.workers}")
        if not args.cpus_per_worker > 0:
            raise ValueError(f"--cpus-per-worker: expected > 0, got {args.cpus_per_worker}")
        return RayEngine(None if args.ray == LOCAL else args.ray, workers=args.workers,
                         cpus_per_worker=args.cpus_per_worker, threads=threads)
    from .dask_engine import DaskEngine

    return DaskEngine(args.dask, threads=threads)


def _check_shard_size(args) -> None:
    if args.shard_size is not None and args.shard_size < 1:
        raise ValueError(f"--shard-size: expected >= 1, got {args.shard_size}")


def predict_job(args: argparse.Namespace) -> tuple[dict, list, str]:
    """(job, shards, npz path) for `cliff predict` arguments; the npz path is the one a
    single-process run writes."""
    from ..cli import _output_paths
    from ..files import STANDIN_NOTE, resolve
    from .shards import expand_inputs, predict_shards

    _check_shard_size(args)
    if args.render or args.save_mesh:
        raise ValueError("--render/--save-mesh: not available with --ray/--dask yet (the .npz only); "
                         "run them single-process on the inputs you want to look at")
    if args.boxes is None:
        from ..detect import available
        if not available():
            raise RuntimeError("no person boxes: pass --boxes FILE, or install the built-in "
                               "detector with pip install '.[detect]' in a cliff clone")
    backbone = args.backbone or ("hr48" if not args.ckpt else None)
    ckpt, smpl, standin = resolve(args.ckpt, args.smpl, backbone or "hr48", allow_standin=args.standin)
    if standin:
        print(STANDIN_NOTE, file=sys.stderr)
    if backbone is None and not args.output.lower().endswith(".npz"):
        # the output's name carries the backbone, as in a single-process run
        from ..arch import detect_backbone
        from ..io import load_checkpoint
        backbone = detect_backbone(load_checkpoint(ckpt).keys())
    inputs = expand_inputs(args.paths)
    if not inputs:
        raise FileNotFoundError(f"{', '.join(args.paths)}: no images or videos found")
    npz_path, folder = _output_paths(args.output, args.paths, backbone or "hr48")
    os.makedirs(folder, exist_ok=True)
    job = {"kind": "predict", "ckpt": os.path.abspath(ckpt), "smpl": os.path.abspath(smpl),
           "backbone": backbone, "precision": args.precision, "batch_size": args.batch_size,
           "pose_format": args.pose_format, "focal": args.focal,
           "K": list(args.intrinsics) if args.intrinsics else None,
           "boxes_file": os.path.abspath(args.boxes) if args.boxes else None}
    n = args.shard_size
    shards = predict_shards(inputs, n or 64, n or 256)
    return job, shards, npz_path


def annotate_job(args: argparse.Namespace) -> tuple[dict, list, str]:
    from ..annotate.annotator import load_keypoints
    from ..cli.annotate import check_args, guard_options
    from .shards import range_shards

    _check_shard_size(args)
    check_args(args)
    if args.refine != "fit":
        raise ValueError(f"--refine {args.refine}: fine-tuning learns from all people at once and "
                         "does not shard; use --refine fit (the default) with --ray/--dask")
    entries = load_keypoints(args.keypoints)
    job = {"kind": "annotate", "ckpt": os.path.abspath(args.ckpt), "smpl": os.path.abspath(args.smpl),
           "keypoints": os.path.abspath(args.keypoints), "images": os.path.abspath(args.images),
           "focal": args.focal, "loss": args.loss, "min_keypoints": args.min_keypoints,
           "max_iter": args.max_iter, "robust": args.robust,
           "guard": {**guard_options(args),
                     **({"pose_prior": os.path.abspath(args.pose_prior), "w_gmm": args.w_gmm}
                        if getattr(args, "pose_prior", None) else {})},
           "min_confidence": args.min_confidence}
    return job, range_shards(len(entries), args.shard_size or 64), args.output


def run(args: argparse.Namespace) -> int:
    """The distributed branch of `cliff predict` / `cliff annotate`: 0, or 1 when some input
    was skipped (recorded in the manifest); raises like the single-process commands."""
    from .job import run_job

    quiet = getattr(args, "quiet", False)
    say = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr))
    if args.command == "predict":
        if getattr(args, "focal", None) == "learned":
            raise ValueError("--focal learned: not supported with --ray/--dask yet; run without them")
        job, shards, out = predict_job(args)
    else:
        job, shards, out = annotate_job(args)
    engine = engine_for(args)
    say(f"cliff: {len(shards)} shards on {engine.name}; manifest and parts in {out}.parts/")
    s = run_job(job, shards, out, engine, progress=say)
    print(f"cliff: {s['people']} people in {s['images']} images -> {out} ({s['ran']} shards run, "
          f"{s['skipped']} done before, {len(s['errors'])} inputs skipped; {s['manifest']})",
          file=sys.stderr)
    return 1 if s["errors"] else 0
