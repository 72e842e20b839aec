"""The whole job on one photo with several people: cliff vs the official pipeline on a CPU.

    python benchmarks/bench_end_to_end.py                      # res50 + hr48, 4 people
    python benchmarks/bench_end_to_end.py --backbones res50 --people 6 --rounds 3

What a user waits for between "here is a photo and its person boxes" and "here is the picture
with the meshes drawn", per image, each side in its own process (the two OpenMP runtimes do not
share the cores), timed in alternating rounds (the order flips every round):

- ``official-cpu``: the official demo's chain made to run on a CPU: the OpenCV crop of the
  official ``common/imutils.py`` (``tests/test_crop.py``'s independent re-implementation,
  ``cv2.resize`` with IPP as on the PyPI wheels), the test suite's PyTorch reference network
  (eager, NCHW, ``torch.no_grad()``, one batch for all people) with the same random weights,
  bbox_info and ``cam_crop2full`` in torch, then the ``smplx`` package's ``SMPL`` layer
  (``pose2rot=False``) on a stand-in body model with SMPL's structure (6890 vertices, 24
  joints, procedural values, ``cliff._standin.smpl_arrays``), and the 2D joints by a NumPy
  pinhole projection;
- ``cliff``: ``cliff.Estimator.run`` (crops, network, body model and projection in one C call)
  with the same weights and body.

Both then draw the meshes over the photo with ``cliff.render``: the official renderer
(pyrender on OpenGL/OSMesa) is not installable on this machine, so rendering is the same code on
both sides and its time is reported as its own column.

Detection is not timed: the official demo's YOLOv3 is not in ``cliff.detect`` yet (the script
says so when run; the boxes are given, as with ``Estimator.run(image, xyxy=...)``).

Reported: median ms per image for each stage and in total, and total official / total cliff.
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
STAGES = ("crop", "network", "body", "render", "total")


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

def _official(ckpt, backbone, smpl_npz, image, boxes):
    import cv2
    import smplx
    import torch
    from smplx.utils import Struct

    sys.path.insert(0, str(REPO / "tests"))
    from reference import torch_cliff as tc
    from test_crop import reference as opencv_crop

    import cliff
    cv2.ipp.setUseIPP(True)
    model = tc.load_reference(ckpt, backbone)
    body = smplx.SMPL(model_path=smpl_npz, data_struct=Struct(**dict(np.load(smpl_npz))), num_betas=10)
    faces = np.asarray(body.faces, dtype=np.int32)
    h, w = image.shape[:2]
    f = float(np.hypot(w, h))

    def run(t):
        t0 = time.perf_counter()
        crops, center, scale, _ = opencv_crop(image, boxes)
        t1 = time.perf_counter()
        with torch.no_grad():
            # the demo casts centre and scale to float32, then b = scale * 200 (docs/official.md)
            b = torch.from_numpy(np.column_stack([center.astype(np.float32),
                                                  scale.astype(np.float32) * np.float32(200)]))
            size = torch.tensor([[w, h]], dtype=torch.float32).expand(len(b), 2)
            focal = tc.default_focal(size.double())
            rotmat, betas, cam = model(torch.from_numpy(crops.astype(np.float32)),
                                       tc.bbox_info(b, size, focal))
            t_full = tc.cam_crop2full(cam, b, size, focal)
        t2 = time.perf_counter()
        with torch.no_grad():
            out = body(betas=betas, global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:],
                       transl=t_full, pose2rot=False)
        verts, joints = out.vertices.numpy(), out.joints.numpy()
        joints2d = f * joints[..., :2] / joints[..., 2:] + [w / 2, h / 2]
        t3 = time.perf_counter()
        picture = cliff.render(image, verts, faces, f)
        t4 = time.perf_counter()
        for k, a, b_ in zip(STAGES, (t0, t1, t2, t3, t0), (t1, t2, t3, t4, t4)):
            t[k].append((b_ - a) * 1e3)
        return verts, joints2d, picture
    return run


def _ours(ckpt, smpl_npz, image, boxes):
    import cliff
    est = cliff.Estimator(ckpt, smpl_npz)
    faces = est.faces
    h, w = image.shape[:2]

    def run(t):
        t0 = time.perf_counter()
        out = est.run(image, xyxy=boxes)
        t1 = time.perf_counter()
        picture = cliff.render(image, out["vertices"], faces, out["focal"][0])
        t2 = time.perf_counter()
        t["crop+network+body"].append((t1 - t0) * 1e3)
        t["render"].append((t2 - t1) * 1e3)
        t["total"].append((t2 - t0) * 1e3)
        return out["vertices"], out["joints2d"], picture
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
        run = _official(args.ckpt, args.backbone, args.smpl, image, boxes)
    else:
        run = _ours(args.ckpt, args.smpl, image, boxes)
    for _ in range(max(1, args.warmup)):
        verts, j2d, _ = run({k: [] for k in (*STAGES, "crop+network+body")})
    np.save(args.result, verts)
    out.write(json.dumps({"ready": True}) + "\n")
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
    ap.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    for a in ("--worker", "--peer", "--ckpt", "--backbone", "--smpl", "--inputs", "--result"):
        ap.add_argument(a, help=argparse.SUPPRESS, **({"action": "store_true"} if a == "--worker" else {}))
    opts = ap.parse_args(argv)
    if opts.worker:
        return worker(opts)

    import cliff
    import cliff.detect
    from cliff._standin import smpl_arrays
    from cliff.io import save_smpl_npz
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_model import write_checkpoint

    info = cliff.info()
    print("CPU: %s; %d logical CPUs; oneDNN %s ISA %s; %d threads; %d people in a 1920x1080 photo; "
          "median of %d alternating rounds" % (cpu_model(), os.cpu_count() or 0, info["onednn"],
                                               info["onednn_isa"], opts.threads, opts.people,
                                               opts.rounds * opts.runs), flush=True)
    yolo = [n for n in dir(cliff.detect) if "yolo" in n.lower()]
    print("detection: %s" % ("cliff.detect has %s, not timed here (boxes given)" % yolo if yolo else
                             "not timed: cliff.detect has no YOLOv3 yet (boxes given to both sides)"))
    tmp = tempfile.TemporaryDirectory(prefix="bench_e2e_")
    d = Path(tmp.name)
    image, boxes = scene(opts.people)
    np.savez(d / "inputs.npz", image=image, boxes=boxes)
    smpl = str(d / "SMPL_NEUTRAL.npz")
    save_smpl_npz(smpl, smpl_arrays(seed=0))
    print("| backbone | peer | crop ms | network ms | body ms | render ms | total ms | official / cliff |")
    print("|---|---|---|---|---|---|---|---|")
    for bb in opts.backbones:
        ckpt = d / ("%s.pt" % bb)
        write_checkpoint(ckpt, bb, seed=1)
        procs = {}
        for peer in ("official-cpu", "cliff"):
            env = dict(os.environ, OMP_NUM_THREADS=str(opts.threads),
                       PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
            cmd = [sys.executable, __file__, "--worker", "--peer", peer, "--ckpt", str(ckpt),
                   "--backbone", bb, "--smpl", smpl, "--inputs", str(d / "inputs.npz"),
                   "--result", str(d / ("%s-%s.npy" % (bb, peer))), "--threads", str(opts.threads),
                   "--warmup", str(opts.warmup)]
            procs[peer] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                           stderr=None if opts.verbose else subprocess.DEVNULL)
        for peer, p in procs.items():
            if not p.stdout.readline():
                p.wait()
                raise SystemExit("worker %s died (exit %s); rerun with --verbose" % (peer, p.returncode))
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
        print("| %s | official-cpu | %.1f | %.1f | %.1f | %.1f | %.1f | |" % (
            bb, o["crop"], o["network"], o["body"], o["render"], o["total"]))
        print("| %s | cliff | %.1f (crop+network+body, one call) | | | %.1f | %.1f | %.2fx |" % (
            bb, c["crop+network+body"], c["render"], c["total"], o["total"] / c["total"]))
        print("  %s: max |vertex delta| official vs cliff %.1e m; without rendering: %.2fx" % (
            bb, dv, (o["total"] - o["render"]) / c["crop+network+body"]), flush=True)
    print("command: python benchmarks/bench_end_to_end.py " + " ".join(sys.argv[1:]))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
