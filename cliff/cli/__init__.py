"""`cliff` command line: predict, demo, annotate, info.

    cliff demo                                   # bundled photos, real files if configured
    cliff predict photos/ --ckpt hr48-...pt --smpl SMPL_NEUTRAL.pkl -o out/
    cliff predict clip.mp4 --boxes dets.json --render --save-mesh obj -o out/

Errors (missing/corrupt inputs, checkpoints, SMPL files) print one line and exit non-zero;
a bad image inside a folder is reported and skipped.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .._version import __version__

FOV_CKPT_NAME = "cam_model_cleaned.ckpt"  # CameraHMR's HumanFoV file, as published


def _int(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None


def _plural(n: int, word: str, plural: str | None = None) -> str:
    """'1 person', '2 people', '0 images'."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _positive_int(s: str) -> int:
    v = _int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def _threads(s: str) -> int:
    v = _int(s)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (all cores) or a positive thread count, got {s}")
    return v


def _intrinsics(s: str) -> tuple[float, float, float, float]:
    try:
        v = tuple(float(x) for x in s.split(","))
    except ValueError:
        v = ()
    if len(v) != 4:
        raise argparse.ArgumentTypeError("expected fx,fy,cx,cy (four numbers, pixels)")
    return v  # type: ignore[return-value]


def _focal(s: str):
    """--focal: a focal length in pixels, or "learned" (HumanFoV, with --fov-ckpt)."""
    if s == "learned":
        return s
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError('expected a focal length in pixels or "learned"') from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", help="CLIFF checkpoint (.pt as released, or .safetensors/.npz)")
    p.add_argument("--smpl", help="SMPL model (SMPL_NEUTRAL.pkl as released, or smplx-style .npz)")
    p.add_argument("--backbone", choices=("hr48", "res50"), default=None,
                   help="network (default: detected from the checkpoint; hr48 for stand-ins)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="people per network call")
    p.add_argument("--threads", type=_threads, default=0, help="CPU threads (0 = all cores)")
    p.add_argument("--pose-format", choices=("aa", "rotmat"), default="aa")
    cam = p.add_mutually_exclusive_group()
    cam.add_argument("--focal", type=_focal, help='focal length in pixels (default: image diagonal), or '
                     '"learned": estimated per image by HumanFoV (needs --fov-ckpt)')
    cam.add_argument("--intrinsics", type=_intrinsics, metavar="FX,FY,CX,CY")
    p.add_argument("--fov-ckpt", help="CameraHMR's HumanFoV weights for --focal learned "
                                      "(default: $CLIFF_HOME/ckpt/cam_model_cleaned.ckpt)")
    p.add_argument("--save-mesh", choices=("obj", "ply"), help="write one mesh per person")
    p.add_argument("--render", action="store_true", help="write front overlay and side view images")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    from ..detect import add_arguments as add_detector_arguments
    add_detector_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cliff", description="CLIFF human mesh recovery on the CPU.")
    parser.add_argument("--version", action="version", version=f"cliff {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="bodies for images, folders and videos")
    p.add_argument("paths", nargs="+", help="images, folders of images, videos")
    p.add_argument("--boxes", help="person boxes JSON (cliff's {file: [[x1,y1,x2,y2]]} or COCO)")
    p.add_argument("-o", "--output", required=True, help="output folder (or a .npz file)")
    p.add_argument("--standin", action="store_true",
                   help="run on stand-in files when --ckpt/--smpl are missing (meaningless bodies)")
    _common(p)
    p.add_argument("--smplx", help="SMPL-X model (SMPLX_NEUTRAL.npz/.pkl as released) for SMPL-X checkpoints "
                   "(BEDLAM's bedlam_cliff.ckpt); instead of --smpl")
    from . import export as cli_export
    cli_export.add_predict_options(p)  # --track/--smooth/--export (docs/motion.md)
    _distributed_options(p)

    d = sub.add_parser("demo", help="run the whole pipeline on the bundled photos")
    d.add_argument("-o", "--output", default="cliff-demo-output", help="output folder")
    _common(d)

    sub.add_parser("info", help="versions, oneDNN, threads")

    try:
        from . import annotate as cli_annotate
    except ImportError:
        cli_annotate = None
    if cli_annotate is not None:
        cli_annotate.add_parser(sub)
    from . import evaluate as cli_evaluate
    cli_evaluate.add_parser(sub)
    cli_export.add_parser(sub)
    from . import cache as cli_cache
    cli_cache.add_parser(sub)
    return parser


def _distributed_options(p: argparse.ArgumentParser) -> None:
    from ..distributed.cli import add_options  # --ray / --dask (docs/scale.md)
    add_options(p)


class _Reporter:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.errors = 0

    def say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr)

    def skip(self, path: str, exc: BaseException) -> None:
        from tqdm import tqdm

        self.errors += 1
        # through tqdm so the line does not land in the middle of the progress bar
        msg = str(exc) if str(exc).startswith(path) else f"{path}: {exc}"
        tqdm.write(f"cliff: skipped {msg}", file=sys.stderr)


def _output_paths(out: str, paths: list[str], backbone: str) -> tuple[str, str]:
    """(npz path, folder for meshes/renders). Mirrors the official naming
    `<input stem>_cliff_<backbone>.npz` for a single input."""
    if out.lower().endswith(".npz") and not os.path.isdir(out):
        folder = os.path.dirname(os.path.abspath(out))
        return out, folder
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"-o/--output: {out} is an existing file; give a folder or a path ending in .npz")
    stem = os.path.splitext(os.path.basename(os.path.normpath(paths[0])))[0] if len(paths) == 1 else "cliff"
    return os.path.join(out, f"{stem}_cliff_{backbone}.npz"), out


def run_predict(args: argparse.Namespace, paths: list[str], boxes_file: str | None,
                allow_standin: bool, rep: _Reporter, *, demo: bool = False,
                collect: dict | None = None) -> str:
    import cliff
    from ..files import STANDIN_NOTE, resolve
    from ..io.images import iter_frames, list_inputs
    from ..io.boxes import boxes_for, load_boxes
    from ..pipeline import Estimator
    from ..io.results import ResultWriter

    if args.threads:
        cliff.set_num_threads(args.threads)
    backbone = args.backbone
    if backbone is None:
        backbone = "hr48" if not args.ckpt else None
    # inputs first: a missing path, a bad boxes file or -o fail before any model file is
    # resolved, written (stand-ins) or loaded
    inputs = list_inputs(paths)
    if not inputs:
        raise FileNotFoundError(f"{', '.join(paths)}: no images or videos found")
    boxes = load_boxes(boxes_file) if boxes_file else None
    _output_paths(args.output, paths, backbone or "hr48")
    smplx = getattr(args, "smplx", None)
    if smplx:  # an SMPL-X checkpoint and body, both given by the user
        if args.smpl:
            raise ValueError("--smpl, --smplx: give one body model")
        if not args.ckpt:
            raise FileNotFoundError("--smplx needs --ckpt: an SMPL-X checkpoint (BEDLAM's bedlam_cliff.ckpt)")
        ckpt, smpl, standin = args.ckpt, None, False
    else:
        ckpt, smpl, standin = resolve(args.ckpt, args.smpl, backbone or "hr48", allow_standin=allow_standin)
    if standin:
        print(STANDIN_NOTE, file=sys.stderr)
    if collect is not None:  # the demo fits the stand-in body afterwards (cli/demo_fit.py)
        collect.update(standin=standin, smpl=smpl, results={})
    people = None
    if boxes is None:  # before the model load: a missing detector is reported at once
        from ..detect import from_args, no_detector_message
        people = from_args(args)
        if people is None:
            raise RuntimeError(no_detector_message())

    learned = getattr(args, "focal", None) == "learned"
    fov_ckpt = getattr(args, "fov_ckpt", None)
    if fov_ckpt and not learned:
        raise ValueError('--fov-ckpt: only used with --focal learned')
    if learned and not fov_ckpt:
        from ..files import home_ckpt
        fov_ckpt = home_ckpt(FOV_CKPT_NAME)
    if learned and not fov_ckpt:
        if not standin:
            raise FileNotFoundError("--focal learned needs CameraHMR's cam_model_cleaned.ckpt: pass --fov-ckpt "
                                    "PATH or put it in $CLIFF_HOME/ckpt/ (see docs/focal.md; cliff downloads "
                                    "nothing)")
        from .._standin import standin_fov_file
        fov_ckpt = standin_fov_file()

    t0 = time.perf_counter()
    est = Estimator(ckpt, smpl, smplx=smplx or None, backbone=backbone, precision=args.precision,
                    batch_size=args.batch_size,
                    focal="learned" if learned else None, fov_ckpt=fov_ckpt if learned else None)
    rep.say(f"cliff: {est.model.backbone} loaded in {time.perf_counter() - t0:.1f} s "
            f"({cliff.get_num_threads()} threads)")
    npz_path, folder = _output_paths(args.output, paths, est.model.backbone)
    os.makedirs(folder, exist_ok=True)
    writer = ResultWriter(npz_path, folder, est.faces, pose_format=args.pose_format,
                          mesh_format=args.save_mesh, render=args.render, K=args.intrinsics,
                          standin=standin, body=getattr(est.smpl, "kind", "smpl"))

    K = args.intrinsics
    names: list[str] = []
    images: dict[str, np.ndarray] = {}
    dets: list[np.ndarray] = []  # detector rows (objectness, class score) for the npz, in order

    def frames():  # (name, image, boxes); the detector runs on batches of images
        if people is None:
            for name, image in iter_frames(paths, on_error=rep.skip):
                xyxy = boxes_for(boxes, name)
                yield name, image, np.zeros((0, 4), np.float32) if xyxy is None else xyxy
            return
        batch: list = []
        for item in iter_frames(paths, on_error=rep.skip):
            batch.append(item)
            if len(batch) == args.batch_size:
                yield from detected(batch)
                batch = []
        yield from detected(batch)

    def detected(batch):
        rows = people.rows([im for _, im in batch])
        for i, (name, image) in enumerate(batch):
            dets.append(rows[rows[:, 0] == i])
            yield name, image, dets[-1][:, 1:5]

    def items():
        for name, image, xyxy in frames():
            names.append(name)
            if args.render:
                images[name] = image
            yield (image, xyxy)

    from tqdm import tqdm

    bar = tqdm(total=None, unit="img", disable=args.quiet, desc="cliff", leave=False)
    try:
        for i, res in enumerate(est.run_many(items(), focal=None if learned else args.focal, K=K)):
            name = names[i]
            if people is not None:
                res["detection"] = dets.pop(0)
            writer.add(name, res, images.pop(name, None))
            if collect is not None:
                collect["results"][name] = res
            bar.update(1)
    finally:
        bar.close()  # before any error message, so it is not glued to the bar
    if writer.num_images == 0 and rep.errors:
        # nothing could be read: an error (status 2), not an empty result file
        raise OSError(f"no readable image or video among the inputs ({rep.errors} skipped)")
    writer.close()
    est.close()
    rep.say(f"cliff: {_plural(writer.num_people, 'person', 'people')} in "
            f"{_plural(writer.num_images, 'image')} -> {npz_path} "
            f"({time.perf_counter() - t0:.1f} s)")
    return npz_path


def _motion(args: argparse.Namespace) -> bool:
    from . import export as cli_export
    return cli_export.wants_motion(args)


def run_demo(args: argparse.Namespace, rep: _Reporter) -> str:
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
    photos = [os.path.join(here, n) for n in ("astronaut.jpg", "cameraman.jpg", "grace_hopper.jpg")]
    args.render = True
    args.save_mesh = args.save_mesh or "obj"
    os.makedirs(args.output, exist_ok=True)
    out = os.path.join(args.output, "demo.npz")
    args_out = args.output
    args.output = out
    info: dict = {}
    path = run_predict(args, photos, os.path.join(here, "boxes.json"), True, rep, demo=True,
                       collect=info)
    if not info["standin"]:
        print(f"cliff demo: wrote {path}, meshes and front/side renders into {os.path.abspath(args_out)}/")
        return path
    from . import demo_fit
    demo_fit.write_note(args_out)
    fitted = demo_fit.fit_demo(info["smpl"], photos, args_out)
    rep.say(f"cliff demo: stand-in body fitted to MediaPipe keypoints, mean reprojection error "
            f"{fitted['fit_err_init'].mean():.1f} px -> {fitted['fit_err'].mean():.1f} px")
    print(f"cliff demo: wrote STAND-IN results (random weights, blob body; see STANDIN.txt): "
          f"{path}, fitted.npz, meshes and renders, and fitted bodies in "
          f"{os.path.abspath(os.path.join(args_out, 'fitted'))}/")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rep = _Reporter(getattr(args, "quiet", False))
    try:
        if args.command == "info":
            import cliff
            for k, v in cliff.info().items():
                print(f"{k}: {v}")
            return 0
        if args.command == "cache":
            from . import cache as cli_cache
            return cli_cache.run(args)
        if args.command == "demo":
            run_demo(args, rep)
            return 0
        if args.command in ("predict", "annotate"):
            from ..distributed import cli as dist  # --ray / --dask: sharded (docs/scale.md)
            if dist.wanted(args):
                return dist.run(args)
        if args.command == "predict" and _motion(args):
            from . import export as cli_export
            return cli_export.run_predict_motion(args, rep)
        if args.command == "export":
            from . import export as cli_export
            return cli_export.run_export(args)
        if args.command == "predict":
            run_predict(args, args.paths, args.boxes, args.standin, rep)
            return 1 if rep.errors else 0
        if args.command == "annotate":
            from . import annotate as cli_annotate
            return int(cli_annotate.run(args) or 0)
        if args.command == "evaluate":
            from . import evaluate as cli_evaluate
            return int(cli_evaluate.run(args) or 0)
    except KeyboardInterrupt:
        print("cliff: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, RuntimeError, MemoryError) as exc:
        msg = str(exc) or exc.__class__.__name__
        print(f"cliff: error: {msg}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
