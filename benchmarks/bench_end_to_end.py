"""The whole job on one photo with several people: cliff vs the official pipeline on a CPU.

    python benchmarks/bench_end_to_end.py                      # res50 + hr48, 4 people
    python benchmarks/bench_end_to_end.py --backbones res50 --people 6 --rounds 3
    python benchmarks/bench_end_to_end.py --yolo-weights yolov3.weights   # the real detector file

What a user waits for between "here is a photo" and "here is the picture with the meshes
drawn", per image, each side in its own process (the two OpenMP runtimes do not share the
cores), timed in alternating rounds (the order flips every round):

- ``official-cpu``: the official demo's chain made to run on a CPU: YOLOv3 as the demo runs it
  (``tests/reference/torch_yolo.py``: the port's letterbox with ``cv2.resize`` INTER_CUBIC, IPP
  on as on the x86 PyPI wheels, /255, the PyTorch Darknet graph of yolov3.cfg in eager mode on
  the darknet weights file, then predict_transform + write_results + the mapping back to the
  image, the test suite's NumPy references of the port's steps), then the OpenCV crop of the
  official ``common/imutils.py`` (``tests/test_crop.py``'s independent re-implementation,
  ``cv2.resize`` with IPP as on the PyPI wheels), the test suite's PyTorch reference network
  (eager, NCHW, ``torch.no_grad()``, one batch for all people) with the same random weights,
  bbox_info and ``cam_crop2full`` in torch, then the ``smplx`` package's ``SMPL`` layer
  (``pose2rot=False``) on a stand-in body model with SMPL's structure (6890 vertices, 24
  joints, procedural values, ``cliff._standin.smpl_arrays``), and the 2D joints by a NumPy
  pinhole projection;
- ``cliff``: ``cliff.detect.yolo.Detector.detect`` (what ``cliff predict`` calls when no boxes
  are given: letterbox, network and post-processing in C), then ``cliff.Estimator.run`` (crops,
  network, body model and projection in one C call) with the same weights and body.

Detection runs the real-size YOLOv3 (62M parameters, 416x416) on the same darknet-format file on
both sides: ``cliff._standin.yolo_weights`` (random, the real file's format and size) unless
``--yolo-weights`` gives the official ``yolov3.weights``. Random weights find random "people"
(hundreds of rows, which makes post-processing heavier than with the real file; the row counts
are printed), so the boxes handed to the crop stage stay the given ones on both sides.

Both then draw the meshes over the photo with ``cliff.render``: the official renderer
(pyrender on OpenGL/OSMesa) is not installable on this machine, so rendering is the same code on
both sides and its time is reported as its own column.

Reported: median ms per image for each stage and in total, total official / total cliff, the
same ratio without rendering, and without detection and rendering (boxes given).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import cpu_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("detect", "crop", "network", "body", "render", "total")


def scene(n: int, seed: int = 0):
    """A 1920x1080 RGB photo (smooth blobs + noise) and n person boxes (x1, y1, x2, y2) px."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (9, 16, 3))
    img = np.repeat(np.repeat(low, 120, 0), 120, 1) + rng.normal(0, 10, (1080, 1920, 3))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    bh = rng.uniform(0.35 * 1080, 0.9 * 1080, n)
    bw = bh * rng.uniform(0.3, 0.6, n)
    x1, y1 = rng.uniform(0, 1920 - bw), rng.uniform(0, 1080 - bh)
    return img, np.stack([x1, y1, x1 + bw, y1 + bh], 1).astype(np.float32)


# ---- worker side ----------------------------------------------------------------------------

def _official(ckpt, backbone, smpl_npz, yolo_weights, image, boxes):
    import cv2
    import smplx
    import torch
    from smplx.utils import Struct

    sys.path.insert(0, str(REPO / "tests"))
    from reference import torch_cliff as tc
    from reference import torch_yolo as ty
    from test_crop import reference as opencv_crop

    import cliff
    cv2.ipp.setUseIPP(True)
    model = tc.load_reference(ckpt, backbone)
    darknet = ty.Darknet(ty.yolov3_cfg())
    darknet.load_darknet(yolo_weights)
    body = smplx.SMPL(model_path=smpl_npz, data_struct=Struct(**dict(np.load(smpl_npz))), num_betas=10)
    faces = np.asarray(body.faces, dtype=np.int32)
    h, w = image.shape[:2]
    f = float(np.hypot(w, h))

    def run(t):
        td = time.perf_counter()
        # the demo's detect_batch: letterbox, /255 (float64, then float32), NCHW, the network,
        # then predict_transform + write_results + the mapping back, persons kept
        x = ty.letterbox_cv2(image).astype(np.float64) / 255.0
        x = torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None].contiguous()
        with torch.no_grad():
            heads = darknet(x)
        rows = ty.detection_all([hd.permute(0, 2, 3, 1).numpy() for hd in heads], [(h, w)])
        t0 = time.perf_counter()
        crops, center, scale, _ = opencv_crop(image, boxes)  # the given boxes (see the docstring)
        t1 = time.perf_counter()
        # the demo casts centre and scale to float32, then b = scale * 200 (docs/official.md)
        rotmat, betas, t_full, _ = tc.predict_full_frame(model, crops, center, scale, w, h)
        t2 = time.perf_counter()
        with torch.no_grad():
            out = body(betas=betas, global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:],
                       transl=t_full, pose2rot=False)
        verts, joints = out.vertices.numpy(), out.joints.numpy()
        joints2d = f * joints[..., :2] / joints[..., 2:] + [w / 2, h / 2]
        t3 = time.perf_counter()
        picture = cliff.render(image, verts, faces, f)
        t4 = time.perf_counter()
        for k, a, b_ in zip(STAGES, (td, t0, t1, t2, t3, td), (t0, t1, t2, t3, t4, t4)):
            t[k].append((b_ - a) * 1e3)
        return verts, joints2d, picture, rows
    return run


def _ours(ckpt, smpl_npz, yolo_weights, image, boxes):
    import cliff
    from cliff.detect.yolo import load_detector
    est = cliff.Estimator(ckpt, smpl_npz)
    det = load_detector(yolo_weights)
    faces = est.faces
    h, w = image.shape[:2]

    def run(t):
        td = time.perf_counter()
        rows = det.detect([image])
        t0 = time.perf_counter()
        out = est.run(image, xyxy=boxes)  # the given boxes (see the docstring)
        t1 = time.perf_counter()
        picture = cliff.render(image, out["vertices"], faces, out["focal"][0])
        t2 = time.perf_counter()
        t["detect"].append((t0 - td) * 1e3)
        t["crop+network+body"].append((t1 - t0) * 1e3)
        t["render"].append((t2 - t1) * 1e3)
        t["total"].append((t2 - td) * 1e3)
        return out["vertices"], out["joints2d"], picture, rows
    return run


def worker(args):
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    d = np.load(args.inputs)
    image, boxes = d["image"], d["boxes"]
    import cliff
    cliff.set_num_threads(args.threads)
    if args.peer == "official-cpu":
        import torch
        torch.set_num_threads(args.threads)
        run = _official(args.ckpt, args.backbone, args.smpl, args.yolo, image, boxes)
    else:
        run = _ours(args.ckpt, args.smpl, args.yolo, image, boxes)
    for _ in range(max(1, args.warmup)):
        verts, j2d, _, rows = run({k: [] for k in (*STAGES, "crop+network+body")})
    np.save(args.result, verts)
    out.write(json.dumps({"ready": True, "detections": int(len(rows))}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            return
        t = {k: [] for k in (*STAGES, "crop+network+body")}
        for _ in range(cmd["runs"]):
            run(t)
        out.write(json.dumps({k: v for k, v in t.items() if v}) + "\n")


# ---- parent side ----------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backbones", nargs="+", default=["res50", "hr48"], choices=["res50", "hr48"])
    ap.add_argument("--people", type=int, default=4, help="person boxes in the photo")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1, help="timed runs per peer per round")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--yolo-weights", help="darknet yolov3.weights for detection (default: random "
                    "weights of the real file's format and size, cliff._standin.yolo_weights)")
    ap.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    for a in ("--worker", "--peer", "--ckpt", "--backbone", "--smpl", "--yolo", "--inputs", "--result"):
        ap.add_argument(a, help=argparse.SUPPRESS, **({"action": "store_true"} if a == "--worker" else {}))
    opts = ap.parse_args(argv)
    if opts.worker:
        return worker(opts)

    import cliff
    from cliff._standin import smpl_arrays, yolo_weights
    from cliff.io import save_smpl_npz
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_model import write_checkpoint

    info = cliff.info()
    print("CPU: %s; %d logical CPUs; oneDNN %s ISA %s; %d threads; %d people in a 1920x1080 photo; "
          "median of %d alternating rounds" % (cpu_model(), os.cpu_count() or 0, info["onednn"],
                                               info["onednn_isa"], opts.threads, opts.people,
                                               opts.rounds * opts.runs), flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench_e2e_")
    d = Path(tmp.name)
    yolo = opts.yolo_weights or yolo_weights(d / "yolov3.weights", seed=0)
    print("detection: YOLOv3 on %s, timed on both sides; the crops use the given boxes on both sides"
          % (opts.yolo_weights or "random darknet-format weights (cliff._standin.yolo_weights, real size)"),
          flush=True)
    image, boxes = scene(opts.people)
    np.savez(d / "inputs.npz", image=image, boxes=boxes)
    smpl = str(d / "SMPL_NEUTRAL.npz")
    save_smpl_npz(smpl, smpl_arrays(seed=0))
    print("| backbone | peer | detect ms | crop ms | network ms | body ms | render ms | total ms | official / cliff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bb in opts.backbones:
        ckpt = d / ("%s.pt" % bb)
        write_checkpoint(ckpt, bb, seed=1)
        procs = {}
        for peer in ("official-cpu", "cliff"):
            # the workers import the cliff this process imported, then the repo (tests/reference)
            path = [str(Path(cliff.__file__).resolve().parents[1]), str(REPO), os.environ.get("PYTHONPATH")]
            env = dict(os.environ, OMP_NUM_THREADS=str(opts.threads), PYTHONPATH=os.pathsep.join(p for p in path if p))
            cmd = [sys.executable, __file__, "--worker", "--peer", peer, "--ckpt", str(ckpt),
                   "--backbone", bb, "--smpl", smpl, "--yolo", str(yolo), "--inputs", str(d / "inputs.npz"),
                   "--result", str(d / ("%s-%s.npy" % (bb, peer))), "--threads", str(opts.threads),
                   "--warmup", str(opts.warmup)]
            procs[peer] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                           stderr=None if opts.verbose else subprocess.DEVNULL)
        found = {}
        for peer, p in procs.items():
            line = p.stdout.readline()
            if not line:
                p.wait()
                raise SystemExit("worker %s died (exit %s); rerun with --verbose" % (peer, p.returncode))
            found[peer] = json.loads(line)["detections"]
        times = {peer: {} for peer in procs}
        for r in range(opts.rounds):
            order = list(procs) if r % 2 == 0 else list(procs)[::-1]
            for peer in order:
                p = procs[peer]
                p.stdin.write(json.dumps({"op": "time", "runs": opts.runs}) + "\n")
                p.stdin.flush()
                for k, v in json.loads(p.stdout.readline()).items():
                    times[peer].setdefault(k, []).extend(v)
        for p in procs.values():
            p.stdin.write(json.dumps({"op": "quit"}) + "\n")
            p.stdin.flush()
            p.wait()
        dv = float(np.abs(np.load(d / ("%s-official-cpu.npy" % bb)) - np.load(d / ("%s-cliff.npy" % bb))).max())
        med = {peer: {k: statistics.median(v) for k, v in t.items()} for peer, t in times.items()}
        o, c = med["official-cpu"], med["cliff"]
        print("| %s | official-cpu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | |" % (
            bb, o["detect"], o["crop"], o["network"], o["body"], o["render"], o["total"]))
        print("| %s | cliff | %.1f | %.1f (crop+network+body, one call) | | | %.1f | %.1f | %.2fx |" % (
            bb, c["detect"], c["crop+network+body"], c["render"], c["total"], o["total"] / c["total"]))
        print("  %s: max |vertex delta| official vs cliff %.1e m; detection rows official %d, cliff %d; "
              "detection alone %.2fx; without rendering %.2fx; without detection and rendering "
              "(boxes given) %.2fx" % (
                  bb, dv, found["official-cpu"], found["cliff"], o["detect"] / c["detect"],
                  (o["total"] - o["render"]) / (c["total"] - c["render"]),
                  (o["total"] - o["render"] - o["detect"]) / c["crop+network+body"]), flush=True)
    print("command: python benchmarks/bench_end_to_end.py " + " ".join(sys.argv[1:]))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
