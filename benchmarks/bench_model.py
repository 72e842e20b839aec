"""CLIFF networks: cliff (oneDNN) vs PyTorch, ONNX Runtime and OpenVINO, side by side.

    python benchmarks/bench_model.py            # full: hr48+res50, batch 1+8, fp32+bf16
    python benchmarks/bench_model.py --quick    # smoke check: few runs
    python benchmarks/bench_model.py --backbones res50 --batches 1 --precisions fp32 --compile

Peers (each in its own subprocess, all alive during a configuration, timed in alternating
rounds with the order rotated every round):

- ``torch-eager``: the official demo's way: NCHW, ``model.eval()``, ``torch.no_grad()``;
  bf16 = ``torch.autocast('cpu', torch.bfloat16)``;
- ``torch-tuned``: channels_last + ``torch.jit.trace`` + ``torch.jit.freeze`` +
  ``torch.jit.optimize_for_inference``; bf16 = encoder weights and input in bfloat16
  (channels_last), regressor float32, like ours;
- ``torch-compile`` (only with ``--compile``): ``torch.compile`` (inductor) with
  ``torch._inductor.config.freezing = True``, channels_last; bf16 via autocast;
- ``onnxruntime`` (fp32 only): the reference model exported to ONNX (``torch.onnx.export``,
  legacy TorchScript exporter, opset 17, dynamic batch) with the same random weights, run by an
  ``onnxruntime.InferenceSession`` (CPU provider, all graph optimisations, ``intra_op_num_threads``
  = threads, sequential execution);
- ``openvino-latency`` / ``openvino-throughput`` (fp32 only): the same ONNX file compiled by
  OpenVINO for "CPU" with ``INFERENCE_PRECISION_HINT=f32`` (otherwise it would silently run
  bf16/fp16 where the CPU has them), ``INFERENCE_NUM_THREADS`` = threads, and
  ``PERFORMANCE_HINT`` LATENCY or THROUGHPUT; the throughput peer splits the batch over
  ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` asynchronous requests (``AsyncInferQueue``), so it only
  runs at batch > 1. The ONNX/OpenVINO peers compute bbox_info and the full-frame camera in NumPy
  (the same float32 formulas), the network in their runtime. Missing packages (``pip install
  -e '.[bench]'``) are reported as skipped rows;
- ``cliff``: ``cliff.load_model(ckpt).predict(crops, boxes, img_size)`` (bf16:
  ``precision='bf16'``). Skipped with a message when ``cliff.load_model`` does not exist;
- ``cliff-direct`` (unless ``--no-cliff-direct``): the same with ``CLIFF_CONV=direct``, every
  convolution oneDNN's direct one (no Winograd layers), to show what the Winograd layers give.

Every peer does the same per-batch work: bbox_info, encoder, 3 regressor iterations, 6D ->
rotation matrices, crop -> full-frame camera (PyTorch peers), or ``Model.predict`` (ours, which
also returns axis-angle). Inputs: float32 NCHW normalized crops, identical for all peers.
Weights: random official-layout checkpoints from ``cliff._standin.random_state_dict`` (same layer
shapes as the released ones, so the same speed), or the real files via ``--ckpt-hr48/--ckpt-res50``.

Reported per peer: median and min of the timed runs (ms per batch), ms per crop, images/s,
ratios to the PyTorch peers, peak RSS of the worker process (VmHWM), the max |delta| of
the rotation matrices against torch-eager, and for ours the "conv floor": the sum of the
convolution primitives' times when the engine exposes a per-layer profile (``Model.profile``).
Thread count is the same for all (``--threads``, default: all cores): OMP_NUM_THREADS,
torch.set_num_threads, cliff.set_num_threads.
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
from _machine import cpu_description  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PEERS_TORCH = ("torch-eager", "torch-tuned")


# ---- worker side ----------------------------------------------------------------------------

def _peak_rss_mb():
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives execve, so a worker would report the
    # (torch-importing) parent's peak instead of its own.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _torch_runner(peer, ckpt, backbone, precision, threads, crops, boxes, img_size):
    import torch
    sys.path.insert(0, str(REPO / "tests"))
    from reference import torch_cliff as tc

    torch.set_num_threads(threads)
    model = tc.load_reference(ckpt, backbone)
    x = torch.from_numpy(crops)
    b = torch.from_numpy(boxes)
    size = torch.from_numpy(img_size).reshape(1, 2).expand(len(boxes), 2)
    f = tc.default_focal(size.double())
    info = tc.bbox_info(b, size, f)
    bf16 = precision == "bf16"

    def finish(rotmat, betas, cam):
        return rotmat, betas, cam, tc.cam_crop2full(cam, b, size, f)

    if peer == "torch-eager":
        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                i = tc.bbox_info(b, size, f)
                return finish(*[t.float() for t in model(x, i)])
        return run

    if peer == "torch-tuned":
        class Net(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.enc = m.encoder
                self.m = m
                self.dt = torch.bfloat16 if bf16 else torch.float32

            def forward(self, x, i):
                feat = self.enc(x.to(self.dt)).float()
                return self.m.regress(feat, i)

        net = Net(model).eval()
        net.enc.to(memory_format=torch.channels_last)
        if bf16:
            net.enc.to(torch.bfloat16)
        xc = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            traced = torch.jit.trace(net, (xc, info), check_trace=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

        def run():
            with torch.no_grad():
                i = tc.bbox_info(b, size, f)
                return finish(*frozen(xc, i))
        return run

    if peer == "torch-compile":
        import torch._inductor.config as icfg
        icfg.freezing = True
        model.to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        compiled = torch.compile(model)

        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                i = tc.bbox_info(b, size, f)
                return finish(*[t.float() for t in compiled(xc, i)])
        return run
    raise ValueError(peer)


def _cliff_runner(ckpt, precision, threads, crops, boxes, img_size, info_out):
    import inspect

    import cliff
    if not hasattr(cliff, "load_model"):
        raise _Skip("cliff.load_model does not exist yet on this branch: our side skipped")
    cliff.set_num_threads(threads)
    kw_load, kw_pred = {}, {}
    if precision != "fp32":
        if "precision" in inspect.signature(cliff.load_model).parameters:
            kw_load["precision"] = precision
        else:
            kw_pred["precision"] = precision
    model = cliff.load_model(ckpt, **kw_load)

    def run():
        out = model.predict(crops, boxes, img_size, **kw_pred)
        return out["rotmat"], out["betas"], out["cam_crop"], out["t_full"]

    def floor():
        info_out["conv_floor_ms"] = _conv_floor(model, len(boxes))
    if hasattr(model, "stream_groups"):  # thread groups a batch runs as (bench_streams.py)
        info_out["stream_groups"] = model.stream_groups(len(boxes))
    if hasattr(model, "branch_streams"):  # HRNet branches as thread groups (bench_streams.py)
        info_out["branch_streams"] = model.branch_streams(len(boxes))
    if not os.environ.get("CLIFF_BENCH_NO_FLOOR"):  # bench_streams.py needs no per-layer profile
        info_out["_after"] = floor
    return run


def _conv_floor(model, n):
    """Sum of the convolution primitives' median times (ms), if the engine exposes a profile.

    Accepted shapes of ``model.profile(n)``: a number; a dict with 'conv_floor_ms' or
    'conv_ms'; a list of dicts/tuples carrying a kind ('conv'...) and a time in ms."""
    prof = getattr(model, "profile", None)
    if prof is None:
        return None
    try:
        r = prof(n)
    except TypeError:
        r = prof()
    if isinstance(r, (int, float)):
        return float(r)
    if isinstance(r, dict):
        for k in ("conv_floor_ms", "conv_ms", "conv"):
            if k in r and np.ndim(r[k]) == 0:
                return float(r[k])
        if "kind" in r and "ms" in r:
            return float(sum(t for k, t in zip(r["kind"], r["ms"]) if str(k).startswith("conv")))
        return None
    total, seen = 0.0, False
    for row in r:
        if isinstance(row, dict):
            kind, ms = row.get("kind"), row.get("ms")
        else:
            kind = next((v for v in row if isinstance(v, str) and v in ("conv", "convolution")), None)
            ms = next((v for v in reversed(row) if isinstance(v, (int, float))), None)
        if kind is not None and str(kind).startswith("conv") and ms is not None:
            total += float(ms)
            seen = True
    return total if seen else None


class _Skip(Exception):
    pass


ONNX_PEERS = ("onnxruntime", "openvino-latency", "openvino-throughput")


def _np_camera(boxes, img_size):
    """bbox_info (N,3) and a crop->full camera function, float32, as tests/reference/torch_cliff."""
    b = boxes.astype(np.float32)
    w, h = np.float32(img_size[0]), np.float32(img_size[1])
    f = np.float32(np.sqrt(np.float64(img_size[0]) ** 2 + np.float64(img_size[1]) ** 2))
    cx, cy, s = b[:, 0], b[:, 1], b[:, 2]
    info = np.stack([(cx - w / 2) / f * np.float32(2.8), (cy - h / 2) / f * np.float32(2.8),
                     (s - np.float32(0.24) * f) / (np.float32(0.06) * f)], 1).astype(np.float32)

    def full(cam):
        bs = s * cam[:, 0] + np.float32(1e-9)
        return np.stack([2 * (cx - w / 2) / bs + cam[:, 1], 2 * (cy - h / 2) / bs + cam[:, 2],
                         2 * f / bs], 1)
    return info, full


def _onnx_runner(peer, onnx_path, threads, crops, boxes, img_size):
    if not onnx_path:
        raise _Skip("%s: no ONNX file (fp32 only)" % peer)
    n = len(boxes)
    if peer == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise _Skip("onnxruntime is not installed: pip install -e '.[bench]'") from None
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])

        def net(x, info):
            return sess.run(None, {"crops": x, "bbox_info": info})
    else:
        try:
            import openvino as ov
        except ImportError:
            raise _Skip("openvino is not installed: pip install -e '.[bench]'") from None
        hint = "LATENCY" if peer == "openvino-latency" else "THROUGHPUT"
        if hint == "THROUGHPUT" and n == 1:
            raise _Skip("openvino-throughput: only at batch > 1 (one request per stream)")
        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": hint,
            "INFERENCE_NUM_THREADS": threads})
        if compiled.get_property("INFERENCE_PRECISION_HINT") != ov.Type.f32:
            raise _Skip("openvino did not accept INFERENCE_PRECISION_HINT=f32")
        if hint == "LATENCY":
            req = compiled.create_infer_request()

            def net(x, info):
                r = req.infer({"crops": x, "bbox_info": info})
                return [r[o] for o in compiled.outputs]
        else:
            nreq = max(1, min(n, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))))
            queue = ov.AsyncInferQueue(compiled, nreq)
            parts = np.array_split(np.arange(n), nreq)
            results = [None] * nreq

            def done(request, k):
                results[k] = [request.get_output_tensor(j).data.copy()
                              for j in range(len(compiled.outputs))]
            queue.set_callback(done)

            def net(x, info):
                for k, idx in enumerate(parts):
                    queue.start_async({"crops": x[idx[0]:idx[-1] + 1],
                                       "bbox_info": info[idx[0]:idx[-1] + 1]}, k)
                queue.wait_all()
                return [np.concatenate([r[j] for r in results]) for j in range(3)]

    def run():
        info, full = _np_camera(boxes, img_size)
        rotmat, betas, cam = net(crops, info)
        return rotmat, betas, cam, full(cam)
    return run


def worker(args):
    """Child process: build one peer, then answer JSON commands on stdin."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by libraries goes to stderr, not into the protocol
    sys.stdout = sys.stderr

    def send(obj):
        out.write(json.dumps(obj) + "\n")

    d = np.load(args.inputs)
    crops, boxes, img_size = d["crops"], d["boxes"], d["img_size"]
    info = {}
    t0 = time.perf_counter()
    try:
        if args.peer in ("cliff", "cliff-direct"):
            run = _cliff_runner(args.ckpt, args.precision, args.threads, crops, boxes, img_size, info)
        elif args.peer in ONNX_PEERS:
            run = _onnx_runner(args.peer, args.onnx, args.threads, crops, boxes, img_size)
        else:
            run = _torch_runner(args.peer, args.ckpt, args.backbone, args.precision, args.threads,
                                crops, boxes, img_size)
        for _ in range(max(1, args.warmup)):
            res = run()
    except _Skip as e:
        send({"skip": str(e)})
        return
    except Exception as e:  # reported in the table, the other peers still run
        send({"skip": "%s failed: %s: %s" % (args.peer, type(e).__name__, e)})
        return
    rotmat = np.asarray(res[0], dtype=np.float32)
    send({"ready": True, "setup_s": time.perf_counter() - t0, "rotmat": rotmat.ravel().tolist()})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "time":
            ts = []
            for _ in range(cmd["runs"]):
                t = time.perf_counter()
                run()
                ts.append((time.perf_counter() - t) * 1e3)
            send({"times": ts})
        elif cmd["op"] == "quit":
            rss = _peak_rss_mb()  # before the (optional) profile, which may allocate
            if "_after" in info:
                try:
                    info.pop("_after")()
                except Exception as e:  # noqa: BLE001 - a missing profile must not hide timings
                    info["conv_floor_error"] = "%s: %s" % (type(e).__name__, e)
            send({"peak_rss_mb": rss, **{k: v for k, v in info.items() if k[0] != "_"}})
            return


# ---- parent side ----------------------------------------------------------------------------

def write_checkpoint(path, backbone, seed):
    import torch

    from cliff._standin import random_state_dict
    sd = random_state_dict(backbone, seed)
    torch.save({"model": {"module." + k: torch.from_numpy(v) for k, v in sd.items()},
                "epoch": 7, "step": 8533}, str(path))


def export_onnx(ckpt, backbone, path):
    """The test suite's PyTorch reference with the checkpoint's weights -> ONNX (dynamic batch).

    The legacy TorchScript exporter (``dynamo=False``): it traces the 3-iteration regressor
    into a plain graph and needs no extra packages; opset 17."""
    import warnings

    import torch
    sys.path.insert(0, str(REPO / "tests"))
    from reference import torch_cliff as tc
    model = tc.load_reference(ckpt, backbone)
    x, i = torch.zeros(2, 3, 256, 192), torch.zeros(2, 3)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x, i), str(path), dynamo=False, opset_version=17,
                          input_names=["crops", "bbox_info"], output_names=["rotmat", "betas", "cam"],
                          dynamic_axes={"crops": {0: "n"}, "bbox_info": {0: "n"}, "rotmat": {0: "n"},
                                        "betas": {0: "n"}, "cam": {0: "n"}})


def make_inputs(path, n, seed=0):
    """n deterministic normalized crops (N,3,256,192) f32 + boxes + image size, saved as npz."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (n, 3, 8, 6))
    img = np.repeat(np.repeat(low, 32, axis=2), 32, axis=3) + rng.normal(0, 12, (n, 3, 256, 192))
    from cliff.constants import IMAGENET_MEAN, IMAGENET_STD
    mean, std = IMAGENET_MEAN.reshape(1, 3, 1, 1), IMAGENET_STD.reshape(1, 3, 1, 1)
    crops = ((np.clip(np.rint(img), 0, 255).astype(np.float32) / np.float32(255) - mean) / std)
    W, H = 1280.0, 720.0
    boxes = np.stack([rng.uniform(0.2, 0.8, n) * W, rng.uniform(0.3, 0.7, n) * H,
                      rng.uniform(0.3, 0.9, n) * H], 1)
    np.savez(path, crops=crops.astype(np.float32), boxes=boxes.astype(np.float32),
             img_size=np.array([W, H], np.float32))


class Peer:
    def __init__(self, name, cfg, ckpt, inputs, opts, onnx=None):
        env = dict(os.environ)
        roots = [opts.cliff_root] if (name.startswith("cliff") and opts.cliff_root) else []
        if name == "cliff-direct":  # the same engine with every convolution direct (no Winograd)
            env["CLIFF_CONV"] = "direct"
        if opts.omp_wait_policy:
            env["OMP_WAIT_POLICY"] = opts.omp_wait_policy
        env.update(OMP_NUM_THREADS=str(opts.threads), MKL_NUM_THREADS=str(opts.threads),
                   PYTHONPATH=os.pathsep.join(roots + [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]))
        cmd = [sys.executable, __file__, "--worker", "--peer", name, "--ckpt", str(ckpt),
               "--backbone", cfg[0], "--precision", cfg[1], "--inputs", str(inputs),
               "--threads", str(opts.threads), "--warmup", str(opts.warmup)]
        if onnx:
            cmd += ["--onnx", str(onnx)]
        self.name = name
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  text=True, stderr=None if opts.verbose else subprocess.DEVNULL)
        self.times, self.info, self.skip, self.rotmat = [], {}, None, None

    def recv(self):
        line = self.p.stdout.readline()
        if not line:
            self.p.wait()
            raise RuntimeError("worker %s died (exit %s); rerun with --verbose" % (self.name, self.p.returncode))
        return json.loads(line)

    def ready(self):
        msg = self.recv()
        if "skip" in msg:
            self.skip = msg["skip"]
            self.p.wait()
            return False
        self.info["setup_s"] = msg["setup_s"]
        self.rotmat = np.array(msg["rotmat"], dtype=np.float32)
        return True

    def send(self, obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()

    def time(self, runs):
        self.send({"op": "time", "runs": runs})
        self.times += self.recv()["times"]

    def close(self):
        self.send({"op": "quit"})
        self.info.update(self.recv())
        self.p.wait()


def run_config(cfg, ckpt, inputs, peers, opts, onnx=None):
    backbone, precision, batch = cfg
    ps = []
    for name in peers:
        if name in ONNX_PEERS and (precision != "fp32" or onnx is None):
            continue  # the ONNX peers are fp32 peers
        if name == "openvino-throughput" and batch == 1:
            continue
        ps.append(Peer(name, cfg, ckpt, inputs, opts, onnx))
    live = [p for p in ps if p.ready()]
    for r in range(opts.rounds):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for p in order:
            p.time(opts.runs)
    for p in live:
        p.close()
    return ps


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke check: 2 rounds x 1 run, 1 warm-up")
    ap.add_argument("--backbones", nargs="+", default=["hr48", "res50"], choices=["hr48", "res50"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per peer per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to build)")
    ap.add_argument("--no-torch-tuned", action="store_true")
    ap.add_argument("--no-cliff-direct", action="store_true",
                    help="skip the cliff-direct row (CLIFF_CONV=direct: no Winograd layers)")
    ap.add_argument("--omp-wait-policy", choices=["active", "passive"],
                    help="OMP_WAIT_POLICY for every worker (the OpenMP peers, cliff and PyTorch, "
                    "read it): passive = idle threads sleep at once instead of spinning, which "
                    "matters on a machine shared with other jobs (docs/performance.md)")
    ap.add_argument("--no-onnx", action="store_true",
                    help="skip the ONNX Runtime and OpenVINO peers (and the ONNX export)")
    ap.add_argument("--ckpt-hr48", help="use this checkpoint instead of random weights")
    ap.add_argument("--ckpt-res50")
    ap.add_argument("--cliff-root", help="import our side's cliff package from this source tree "
                    "(default: this checkout / the installed one)")
    ap.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    # worker-only
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", help=argparse.SUPPRESS)
    ap.add_argument("--backbone", help=argparse.SUPPRESS)
    ap.add_argument("--precision", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.worker:
        return worker(opts)
    if opts.quick:
        opts.rounds, opts.runs, opts.warmup = 2, 1, 1
    peers = ["torch-eager"] + ([] if opts.no_torch_tuned else ["torch-tuned"])
    peers += (["torch-compile"] if opts.compile else [])
    peers += ([] if opts.no_onnx else list(ONNX_PEERS)) + ["cliff"]
    peers += [] if opts.no_cliff_direct else ["cliff-direct"]

    from cliff.model import expected_keys
    tmp = tempfile.TemporaryDirectory(prefix="bench_model_")
    rows, notes = [], []
    print("CPU: %s" % cpu_description())
    try:
        import cliff
        ci = cliff.info()
        print("cliff %s, oneDNN %s (ISA %s)" % (ci["cliff"], ci["onednn"], ci["onednn_isa"]))
    except Exception as e:  # noqa: BLE001 - a description line must not stop the benchmark
        print("cliff info unavailable: %s" % e)
    print("OMP_WAIT_POLICY=%s" % (opts.omp_wait_policy or os.environ.get("OMP_WAIT_POLICY", "unset")))
    print("threads=%d rounds=%d runs/round=%d warmup=%d (timed runs per peer: %d)%s"
          % (opts.threads, opts.rounds, opts.runs, opts.warmup, opts.rounds * opts.runs,
             "  [--quick: not for claims]" if opts.quick else ""), flush=True)
    load = os.getloadavg()[0]
    if load > 0.5:
        print("warning: load average %.1f before starting: other processes share the cores, "
              "timings (PyTorch's OpenMP in particular) will be noisy" % load, flush=True)
    for backbone in opts.backbones:
        ckpt = getattr(opts, "ckpt_" + backbone)
        if ckpt is None:
            ckpt = Path(tmp.name) / ("%s-random.pt" % backbone)
            write_checkpoint(ckpt, backbone, seed=1)
        onnx = None
        if not opts.no_onnx and "fp32" in opts.precisions:
            onnx = Path(tmp.name) / ("%s.onnx" % backbone)
            print("exporting %s to ONNX ..." % backbone, flush=True)
            try:
                export_onnx(ckpt, backbone, onnx)
            except Exception as e:  # noqa: BLE001 - reported; the other peers still run
                notes.append("%s: ONNX export failed: %s: %s" % (backbone, type(e).__name__, e))
                onnx = None
        weights_mb = sum(int(np.prod(s)) * 4 for s in expected_keys(backbone).values()) / 2**20
        for precision in opts.precisions:
            for batch in opts.batches:
                inputs = Path(tmp.name) / ("inputs-%d.npz" % batch)
                if not inputs.exists():
                    make_inputs(inputs, batch)
                cfg = (backbone, precision, batch)
                print("running %s %s batch %d ..." % cfg, flush=True)
                ps = run_config(cfg, ckpt, inputs, peers, opts, onnx)
                med = {p.name: statistics.median(p.times) for p in ps if p.times}
                for p in ps:
                    if p.skip:
                        notes.append("%s %s b%d: %s" % (backbone, precision, batch, p.skip))
                        continue
                    m = med[p.name]
                    dev = (float(np.abs(p.rotmat - ps[0].rotmat).max())
                           if ps[0].rotmat is not None and p is not ps[0] else None)
                    rows.append(dict(
                        backbone=backbone, precision=precision, batch=batch, peer=p.name,
                        median=m, min=min(p.times), n=len(p.times), per_crop=m / batch,
                        ips=1e3 * batch / m,
                        vs_eager=med["torch-eager"] / m if "torch-eager" in med else None,
                        vs_tuned=med["torch-tuned"] / m if "torch-tuned" in med else None,
                        rss=p.info.get("peak_rss_mb"), weights_mb=weights_mb, dev=dev,
                        floor=p.info.get("conv_floor_ms"), setup=p.info.get("setup_s")))
                    if p.info.get("conv_floor_error"):
                        notes.append("%s %s b%d conv floor: %s" % (backbone, precision, batch,
                                                                   p.info["conv_floor_error"]))
    print()
    print("| backbone | prec | batch | peer | median ms | min ms | ms/crop | images/s | "
          "x eager | x tuned | peak RSS MB (weights MB) | max|dR| vs eager | setup s | conv floor ms (ours) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s (%.0f) | %s | %s | %s |" % (
            r["backbone"], r["precision"], r["batch"], r["peer"], fmt(r["median"], ".1f"),
            fmt(r["min"], ".1f"), fmt(r["per_crop"], ".2f"), fmt(r["ips"], ".2f"),
            fmt(r["vs_eager"], ".2f"), fmt(r["vs_tuned"], ".2f"), fmt(r["rss"], ".0f"),
            r["weights_mb"], fmt(r["dev"], ".1e"), fmt(r["setup"], ".1f"),
            "n/a" if r["floor"] is None else "%.1f (latency/floor %.2f)" % (
                r["floor"], r["median"] / r["floor"])))
    ours = {(r["backbone"], r["precision"], r["batch"]): r for r in rows if r["peer"] == "cliff"}
    lines = []
    for (bb, prec, batch), r in sorted(ours.items()):
        if prec == "bf16" and (bb, "fp32", batch) in ours:
            lines.append("%s batch %d: cliff bf16 is %.2fx cliff fp32" % (
                bb, batch, ours[(bb, "fp32", batch)]["median"] / r["median"]))
    for (bb, prec, batch), r in sorted(ours.items()):
        others = [o for o in rows if (o["backbone"], o["precision"], o["batch"]) == (bb, prec, batch)
                  and not o["peer"].startswith("cliff")]
        direct = [o for o in rows if (o["backbone"], o["precision"], o["batch"]) == (bb, prec, batch)
                  and o["peer"] == "cliff-direct"]
        if direct:
            lines.append("%s %s batch %d: cliff (CLIFF_CONV=%s) is %.2fx cliff-direct" % (
                bb, prec, batch, os.environ.get("CLIFF_CONV", "auto"), direct[0]["median"] / r["median"]))
        if others:
            best = min(others, key=lambda o: o["median"])
            rss = [o["rss"] for o in others if o["rss"] is not None]
            lines.append("%s %s batch %d: cliff is %.2fx the fastest peer (%s, %.1f ms); peak RSS %s "
                         "(cliff %s MB, lowest peer %s MB)" % (
                             bb, prec, batch, best["median"] / r["median"], best["peer"],
                             best["median"], "lowest" if rss and r["rss"] is not None and
                             r["rss"] < min(rss) else "NOT lowest", fmt(r["rss"], ".0f"),
                             fmt(min(rss) if rss else None, ".0f")))
    for line in lines:
        print(line)
    if not ours:
        notes.append("no cliff rows: ratios are PyTorch-only")
    for n in notes:
        print("note:", n)
    print("command: python benchmarks/bench_model.py " + " ".join(sys.argv[1:]))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
