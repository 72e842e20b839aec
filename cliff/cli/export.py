"""`cliff export` and the motion options of `cliff predict` (docs/motion.md).

    cliff predict clip.mp4 --boxes dets.json --track --smooth savgol --render --export glb -o out/
    cliff export out/clip_cliff_hr48.npz --format bvh --smpl SMPL_NEUTRAL.pkl -o out/

`predict` with --track, --smooth, --export, or --render on a video takes the motion path: people
are tracked across the frames of each video (or of the ordered images given), every body gets a
`track_id`, tracks are smoothed, the npz gains `frame` and `track_id`, `--render` writes
`<video>_front.mp4` (and `_side.mp4` with --side) at the input's frame rate, and `--export`
writes one animation file per track.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def add_predict_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("motion (videos and ordered image folders)")
    g.add_argument("--track", action="store_true",
                   help="give every person a stable track_id across frames (Kalman + assignment)")
    g.add_argument("--smooth", nargs="?", const="savgol", default=None,
                   choices=("oneeuro", "savgol", "gaussian", "none"),
                   help="temporal smoothing per track (implies --track; default filter: savgol)")
    g.add_argument("--export", action="append", choices=("glb", "bvh"),
                   help="write an animation file per track (implies --track; repeatable)")
    g.add_argument("--per", choices=("track", "scene"), default="track",
                   help="glb: one file per track (default) or one for all tracks")
    g.add_argument("--side", action="store_true", help="with --render on a video: also <video>_side.mp4")
    g.add_argument("--fps", type=float, default=None,
                   help="frame rate (default: the video's; 30 for image folders)")
    g.add_argument("--max-missed", type=int, default=30,
                   help="frames a track survives without a detection (default 30)")


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="animation files (glb, bvh) from a tracked results .npz")
    e.add_argument("npz", help="results of cliff predict --track (keys frame, track_id)")
    e.add_argument("--format", required=True, choices=("glb", "bvh"))
    e.add_argument("--smpl", help="SMPL model (the one the results were computed with)")
    e.add_argument("--standin", action="store_true", help="use the stand-in body when --smpl is missing")
    e.add_argument("--per", choices=("track", "scene"), default="track")
    e.add_argument("--fps", type=float, default=None, help="frame rate (default: the npz's, else 30)")
    e.add_argument("--correctives", action="store_true",
                   help="glb: carry SMPL's corrective shapes as morph targets (17 MB per person)")
    e.add_argument("-o", "--output", default=None, help="output folder (default: next to the npz)")
    e.add_argument("--quiet", action="store_true", help="no messages (a stand-in warning stays)")


def wants_motion(args: argparse.Namespace) -> bool:
    from ..io.images import is_video, list_inputs
    if args.track or args.smooth or args.export:
        return True
    if args.render:
        try:
            return any(is_video(p) for p in list_inputs(args.paths))
        except FileNotFoundError:
            return False
    return False


def _fps(value: float | None, fallback: float) -> float:
    fps = fallback if value is None else float(value)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"--fps: expected a positive frame rate, got {value}")
    return fps


def _export_smpl(args: argparse.Namespace) -> str:
    """The SMPL file for `cliff export`: --smpl, then $CLIFF_HOME, then the stand-in (--standin)."""
    from ..files import STANDIN_NOTE, from_home, standin_files

    if args.smpl:
        if not os.path.exists(args.smpl):
            raise FileNotFoundError(f"{args.smpl}: no such file")
        return args.smpl
    home = from_home("hr48")[1]
    if home:
        return home
    if not args.standin:
        raise FileNotFoundError("cliff export needs the SMPL model the results were computed with "
                                "(--smpl SMPL_NEUTRAL.pkl or CLIFF_HOME); or --standin for the stand-in body")
    print(STANDIN_NOTE, file=sys.stderr)
    return standin_files("hr48")[1]


def run_export(args: argparse.Namespace) -> int:
    from ..io.budget import Meter
    from ..io.npz import read_npz
    from ..motion import export_bvh, export_glb

    try:
        res = dict(read_npz(args.npz, Meter(args.npz, os.path.getsize(args.npz))))
    except FileNotFoundError:
        raise FileNotFoundError(f"{args.npz}: no such file") from None
    except (OSError, ValueError) as exc:
        raise OSError(f"{args.npz}: not a readable results file ({exc})") from exc
    if "track_id" not in res or "frame" not in res:
        raise ValueError(f"{args.npz}: no track_id/frame keys; run cliff predict with --track first")
    fps = _fps(args.fps, float(res["fps"]) if "fps" in res else 30.0)
    smpl = _export_smpl(args)
    folder = args.output or os.path.dirname(os.path.abspath(args.npz))
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.npz))[0]
    out = os.path.join(folder, f"{stem}.{args.format}")
    if args.format == "glb":
        paths = export_glb(res, smpl, out, per=args.per, fps=fps, correctives=args.correctives)
    else:
        paths = export_bvh(res, smpl, out, fps=fps)
    if not getattr(args, "quiet", False):
        print(f"cliff export: wrote {len(paths)} file{'' if len(paths) == 1 else 's'}: "
              f"{', '.join(paths)}")
    return 0


def _sequences(paths: list[str]) -> list[tuple[str, list[str]]]:
    """Inputs grouped into sequences: each video is one; all images given (in order, folders
    sorted) form one."""
    from ..io.images import is_video, list_inputs
    seqs: list[tuple[str, list[str]]] = []
    images: list[str] = []
    for p in list_inputs(paths):
        if is_video(p):
            seqs.append(("video", [p]))
        else:
            images.append(p)
    if images:
        seqs.insert(0, ("images", images))
    return seqs


def run_predict_motion(args: argparse.Namespace, rep) -> int:
    import cliff
    if getattr(args, "focal", None) == "learned":  # one camera for the whole clip is needed here
        raise ValueError("--focal learned: not supported with --track/--smooth/--export (a clip needs one "
                         "camera); estimate it once with cliff.FocalEstimator and pass --focal F")
    from . import _output_paths
    from ..detect import from_args, no_detector_message
    from ..files import STANDIN_NOTE, resolve
    from ..io.boxes import boxes_for, load_boxes
    from ..io.images import iter_frames
    from ..io.video import VideoWriter, video_fps
    from ..motion import Tracker, smooth as smooth_tracks
    from ..motion.export import _track_colors, export_bvh, export_glb
    from ..pipeline import Estimator
    from ..render import render, save_image

    if args.threads:
        cliff.set_num_threads(args.threads)
    backbone = args.backbone or ("hr48" if not args.ckpt else None)
    ckpt, smpl_path, standin = resolve(args.ckpt, args.smpl, backbone or "hr48", allow_standin=args.standin)
    if standin:
        print(STANDIN_NOTE, file=sys.stderr)
    if args.max_missed < 0:
        raise ValueError(f"--max-missed: expected a non-negative number of frames, got {args.max_missed}")
    boxes = load_boxes(args.boxes) if args.boxes else None
    people = from_args(args) if boxes is None else None  # before the model load
    if boxes is None and people is None:
        raise RuntimeError(no_detector_message())
    seqs = _sequences(args.paths)
    if not seqs:
        raise FileNotFoundError(f"{', '.join(args.paths)}: no images or videos found")
    _output_paths(args.output, args.paths, backbone or "hr48")
    t0 = time.perf_counter()
    est = Estimator(ckpt, smpl_path, backbone=backbone, precision=args.precision, batch_size=args.batch_size)
    npz_path, folder = _output_paths(args.output, args.paths, est.model.backbone)
    os.makedirs(folder, exist_ok=True)
    method = args.smooth or "none"
    names: list[str] = []
    rows: dict[str, list] = {k: [] for k in ("rotmat", "betas", "t_full", "focal", "det", "frame", "track_id")}
    seq_info = []              # (kind, paths, fps, first image index, frames)
    next_id = 0
    from tqdm import tqdm
    bar = tqdm(total=None, unit="img", disable=args.quiet, desc="cliff", leave=False)
    try:
        for kind, files in seqs:
            fps = _fps(args.fps, video_fps(files[0]) if kind == "video" else 30.0)
            tracker = Tracker(max_missed=args.max_missed)
            meta: list[tuple[int, np.ndarray, np.ndarray]] = []   # (frame, ids, scores) per image
            first = len(names)

            def items():
                for f, (name, image) in enumerate(iter_frames(files, on_error=rep.skip)):
                    if boxes is not None:
                        b = boxes_for(boxes, name)
                        b = np.zeros((0, 5), np.float32) if b is None else b
                    else:  # the chosen detector: [x1, y1, x2, y2, objectness]
                        r = people.rows([image])
                        b = np.ascontiguousarray(r[:, 1:6], np.float32)
                    ids = tracker.update(b[:, :4], b[:, 4])
                    keep = ids >= 0
                    names.append(name)
                    meta.append((f, ids[keep] + next_id, b[keep, 4]))
                    yield image, b[keep, :4]

            for i, res in enumerate(est.run_many(items(), focal=args.focal, K=args.intrinsics)):
                f, ids, scores = meta[i]
                n = len(ids)
                rows["rotmat"].append(res["rotmat"])
                rows["betas"].append(res["betas"])
                rows["t_full"].append(res["t_full"])
                rows["focal"].append(res["focal"])
                det = np.zeros((n, 8), np.float32)
                det[:, 0] = first + i
                det[:, 1:5] = res["xyxy"]
                det[:, 5] = scores
                det[:, 6] = 1.0
                rows["det"].append(det)
                rows["frame"].append(np.full(n, f, np.int64))
                rows["track_id"].append(ids.astype(np.int64))
                bar.update(1)
            seq_info.append((kind, files, fps, first, len(names) - first))
            next_id += tracker.next_id
    finally:
        bar.close()
    if not names and rep.errors:
        raise OSError(f"no readable image or video among the inputs ({rep.errors} skipped)")
    cat = {k: (np.concatenate(v) if v else None) for k, v in rows.items()}
    N = 0 if cat["betas"] is None else len(cat["betas"])
    if N:
        img = cat["det"][:, 0].astype(np.int64)
        # tracks are per sequence; the frame index is the sequence's frame, unique per track
        if args.smooth is None:   # tracked only: the per-frame bodies as estimated
            R, t, b = cat["rotmat"], cat["t_full"], cat["betas"]
        else:
            sm = smooth_tracks({"rotmat": cat["rotmat"], "t_full": cat["t_full"], "betas": cat["betas"],
                                "track_id": cat["track_id"], "frame": cat["frame"]}, method,
                               fps=seq_info[0][2] if len(seq_info) == 1 else 30.0)
            R, t, b = sm["rotmat"], sm["t_full"], sm["betas"]
        joints = est.smpl(rotmat=R, betas=b, transl=t, vertices=False)["joints"]
    else:
        img = np.zeros(0, np.int64)
        R, t, b = np.zeros((0, 24, 3, 3)), np.zeros((0, 3)), np.zeros((0, 10))
        joints = np.zeros((0, 45, 3))
    pose = R if args.pose_format == "rotmat" else cliff.rotmat_to_axis_angle(R.reshape(-1, 3, 3)).reshape(N, 72)
    out = {"imgname": np.asarray(names, dtype=str), "pose": np.asarray(pose, np.float32),
           "shape": np.asarray(b, np.float32), "global_t": np.asarray(t, np.float32),
           "pred_joints": np.asarray(joints, np.float32),
           "focal_l": (cat["focal"] if N else np.zeros(0)).astype(np.float32),
           "detection_all": (cat["det"] if N else np.zeros((0, 8))).astype(np.float32),
           "frame": (cat["frame"] if N else np.zeros(0)).astype(np.int64),
           "track_id": (cat["track_id"] if N else np.zeros(0)).astype(np.int64),
           "fps": np.float32(seq_info[0][2] if seq_info else 30.0)}
    from ..io.atomic import save_npz_atomic
    save_npz_atomic(npz_path, out)
    if args.save_mesh and N:
        from ..io.mesh import save_obj, save_ply
        from ..io.results import _safe_stem
        os.makedirs(os.path.join(folder, "meshes"), exist_ok=True)
        for i in np.unique(img):
            sel = np.nonzero(img == i)[0]
            v = est.smpl(rotmat=R[sel], betas=b[sel], transl=t[sel])["vertices"]
            for r, vi in zip(sel, v):
                p = os.path.join(folder, "meshes", f"{_safe_stem(names[i])}_track{out['track_id'][r]}.{args.save_mesh}")
                (save_obj if args.save_mesh == "obj" else save_ply)(p, vi, est.faces)
    # overlays: a second decoding pass, one frame in memory at a time
    if args.render:
        K = args.intrinsics
        for kind, files, fps, first, count in seq_info:
            stem = os.path.splitext(os.path.basename(files[0]))[0]
            writers = []
            if kind == "video":
                writers = [VideoWriter(os.path.join(folder, f"{stem}_front.mp4"), fps)]
                if args.side:
                    writers.append(VideoWriter(os.path.join(folder, f"{stem}_side.mp4"), fps))
            try:
                for i, (name, image) in enumerate(iter_frames(files, on_error=lambda *a: None)):
                    if i >= count:
                        break
                    sel = np.nonzero(img == first + i)[0]
                    h, w = image.shape[:2]
                    from ..pipeline import camera_for
                    _, focal, pp = camera_for(w, h, focal=args.focal, K=K)
                    if len(sel):
                        v = est.smpl(rotmat=R[sel], betas=b[sel], transl=t[sel])["vertices"]
                        colors = _track_colors(out["track_id"][sel].tolist())
                        front = render(image, v, est.faces, focal, pp, colors=colors)
                        side = render(image, v, est.faces, focal, pp, colors=colors, side_view=True) \
                            if (args.side or kind != "video") else None
                    else:
                        front = image
                        side = np.full_like(image, 255)
                    if kind == "video":
                        writers[0].write(front)
                        if args.side:
                            writers[1].write(side)
                    else:
                        os.makedirs(os.path.join(folder, "render"), exist_ok=True)
                        s = os.path.splitext(os.path.basename(name))[0]
                        save_image(os.path.join(folder, "render", f"{s}_front.jpg"), front)
                        if len(sel):
                            save_image(os.path.join(folder, "render", f"{s}_side.jpg"), side)
            finally:
                for wr in writers:
                    wr.close()
    written = []
    for fmt in args.export or ():
        target = os.path.splitext(npz_path)[0] + f".{fmt}"
        if not N:
            rep.say(f"cliff: no tracked people, no .{fmt} written")
            continue
        if fmt == "glb" and len(names) == 1:   # one image: its posed meshes, exact SMPL
            still = {k: v for k, v in out.items() if k not in ("track_id", "frame")}
            written += export_glb(still, smpl_path, target)
        elif fmt == "glb":
            written += export_glb(out, smpl_path, target, per=args.per, fps=float(out["fps"]))
        else:
            written += export_bvh(out, smpl_path, target, fps=float(out["fps"]))
    est.close()
    tracks = len(np.unique(out["track_id"])) if N else 0
    rep.say(f"cliff: {N} bodies, {tracks} tracks in {len(names)} frames -> {npz_path}"
            + (f" (+{len(written)} animation files)" if written else "")
            + f" ({time.perf_counter() - t0:.1f} s)")
    return 1 if rep.errors else 0
