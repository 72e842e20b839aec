"""Thread scaling of cliff with and without the batch split across thread groups ("streams"),
side by side with OpenVINO's throughput hint: one command for a machine of any size.

    python benchmarks/bench_streams.py                       # hr48+res50, batch 1+8, 1..16 threads
    python benchmarks/bench_streams.py --backbones res50 --batches 8 --threads 1 2 --rounds 5

For every (backbone, batch, thread count) the peers below run in their own processes
(``benchmarks/bench_model.py``'s workers: ``cliff.load_model(ckpt).predict`` on float32 NCHW
crops, regressor and full-frame camera included; OpenVINO on the test suite's PyTorch
reference exported to ONNX with the same random weights), all alive at once and timed in
alternating rounds with the order rotated each round, so machine load hits them alike:

- ``cliff-off``: ``CLIFF_STREAMS=off``: one plan for the chunk, every layer parallel over all
  threads (the engine before streams);
- ``cliff-auto``: ``CLIFF_STREAMS=auto``, the default rule (docs/performance.md, "Streams");
- ``cliff-k`` (``--streams`` k, default 2 and 8): ``CLIFF_STREAMS=k``: min(k, batch, threads)
  groups whatever the rule says, each with threads/groups threads;
- with ``--branch-streams off on``: every cliff peer above once per ``CLIFF_BRANCH_STREAMS``
  value (HRNet's branches as concurrent thread groups, docs/performance.md, "HRNet branches as
  streams"), named ``cliff-<streams>+branch-<value>`` except for ``off`` (``cliff-<streams>``),
  so ``x cliff-off`` reads branch streams on against off; the groups column then shows
  ``+b`` where the chunk ran with branch groups. E.g. the issue's latency check:
  ``python benchmarks/bench_streams.py --backbones hr48 --batches 1 2 --threads 1 2
  --streams off --branch-streams off on --no-openvino --rounds 8``;
- ``openvino-throughput`` (fp32, batch > 1, when ``openvino`` and ``torch`` are installed):
  ``PERFORMANCE_HINT=THROUGHPUT``, ``INFERENCE_NUM_THREADS`` = threads, the batch split over
  its ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` asynchronous requests (bench_model.py).

Thread counts default to 1, 2, 4, 8, 16, capped at the machine's logical CPUs (the skipped
ones are printed). Reported per peer and thread count: median ms per batch, the thread groups
cliff ran the batch as, peak RSS of the worker (VmHWM, MB), and parallel efficiency relative to
the smallest thread count t0: (ms(t0) * t0) / (ms(t) * t); the issue's goal reads it from 2 to
8 threads at batch 8 (>= 70 %). Also printed: each cliff variant's ratio to cliff-off at the same
thread count (> 1 = faster than without streams), CPU model, ISA and load average.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_model as bm  # noqa: E402
from _machine import cpu_description  # noqa: E402



def run_one(backbone, batch, threads, ckpt, inputs, onnx, opts):
    """All peers of one (backbone, batch, threads): {name: (median ms, groups, rss MB) or skip}."""
    popts = argparse.Namespace(cliff_root=None, omp_wait_policy=opts.omp_wait_policy,
                               threads=threads, warmup=opts.warmup, verbose=opts.verbose)
    cfg = (backbone, "fp32", batch)
    peers = []
    saved = {k: os.environ.get(k) for k in ("CLIFF_STREAMS", "CLIFF_BRANCH_STREAMS")}
    os.environ["CLIFF_BENCH_NO_FLOOR"] = "1"
    try:
        for value in opts.streams:
            for branch in opts.branch_streams or [None]:
                name = "cliff-" + value + ("" if branch in (None, "off") else "+branch-" + branch)
                os.environ["CLIFF_STREAMS"] = value
                if branch is not None:
                    os.environ["CLIFF_BRANCH_STREAMS"] = branch
                p = bm.Peer("cliff", cfg, ckpt, inputs, popts)
                p.name = name
                peers.append(p)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if onnx is not None and batch > 1:
        peers.append(bm.Peer("openvino-throughput", cfg, ckpt, inputs, popts, onnx))
    live = [p for p in peers if p.ready()]
    for r in range(opts.rounds):
        k = r % len(live) if live else 0
        for p in live[k:] + live[:k]:
            p.time(opts.runs)
    for p in live:
        p.close()
    out = {}
    for p in peers:
        if p.skip:
            out[p.name] = p.skip
        else:
            groups = p.info.get("stream_groups")
            if p.info.get("branch_streams"):
                groups = "%s+b" % groups
            out[p.name] = (statistics.median(p.times), groups, p.info.get("peak_rss_mb"))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backbones", nargs="+", default=["hr48", "res50"], choices=["hr48", "res50"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    ap.add_argument("--streams", nargs="+", default=["off", "auto", "2", "8"],
                    choices=["off", "auto"] + [str(k) for k in range(2, 9)],
                    help="CLIFF_STREAMS values, one cliff peer each")
    ap.add_argument("--branch-streams", nargs="+", choices=["off", "on", "auto"],
                    help="CLIFF_BRANCH_STREAMS values: each cliff peer once per value (default: unset)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=2, help="timed runs per peer per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-openvino", action="store_true", help="skip the OpenVINO throughput peer")
    ap.add_argument("--omp-wait-policy", choices=["active", "passive"])
    ap.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    opts = ap.parse_args(argv)

    import cliff
    ncpu = os.cpu_count() or 1
    threads = sorted({t for t in opts.threads if 1 <= t <= ncpu})
    skipped = sorted({t for t in opts.threads if not 1 <= t <= ncpu})
    info = cliff.info()
    print("CPU: %s" % cpu_description())
    print("cliff %s, oneDNN %s (ISA %s); load average %.2f %.2f %.2f" % (
        info["cliff"], info["onednn"], info["onednn_isa"], *os.getloadavg()))
    print("threads %s%s; %d rounds x %d runs per peer, %d warm-up" % (
        threads, "; skipped %s: the machine has %d logical CPUs" % (skipped, ncpu) if skipped else "",
        opts.rounds, opts.runs, opts.warmup), flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench_streams_")
    d = Path(tmp.name)
    notes, rows = [], []
    for bb in opts.backbones:
        ckpt = d / ("%s-random.pt" % bb)
        bm.write_checkpoint(ckpt, bb, seed=1)
        onnx = None
        if not opts.no_openvino and any(b > 1 for b in opts.batches):
            try:
                import openvino  # noqa: F401
                onnx = d / ("%s.onnx" % bb)
                bm.export_onnx(ckpt, bb, onnx)
            except Exception as e:  # noqa: BLE001 - reported; cliff still runs
                notes.append("%s: no OpenVINO peer: %s: %s" % (bb, type(e).__name__, e))
                onnx = None
        for batch in opts.batches:
            inputs = d / ("inputs-%d.npz" % batch)
            if not inputs.exists():
                bm.make_inputs(inputs, batch)
            res = {}
            for t in threads:
                print("running %s batch %d, %d threads ..." % (bb, batch, t), flush=True)
                res[t] = run_one(bb, batch, t, ckpt, inputs, onnx, opts)
            cliff_names = ["cliff-" + v + ("" if b in (None, "off") else "+branch-" + b)
                           for v in opts.streams for b in opts.branch_streams or [None]]
            names = [n for n in cliff_names + ["openvino-throughput"]
                     if any(n in res[t] for t in threads)]
            for n in names:
                ms = {t: res[t][n][0] for t in threads if isinstance(res[t].get(n), tuple)}
                for t in threads:
                    if isinstance(res[t].get(n), str):
                        notes.append("%s b%d %s %d thr: %s" % (bb, batch, n, t, res[t][n]))
                if not ms:
                    continue
                t0 = min(ms)
                for t in sorted(ms):
                    _, groups, rss = res[t][n]
                    off = res[t].get("cliff-off")
                    vs_off = off[0] / ms[t] if isinstance(off, tuple) and n.startswith("cliff") else None
                    rows.append((bb, batch, n, t, ms[t], groups, rss, ms[t0] * t0 / (ms[t] * t), t0, vs_off))
    print()
    print("| backbone | batch | peer | threads | ms/batch | groups | peak RSS MB | efficiency vs t0 | x cliff-off |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bb, batch, n, t, ms, groups, rss, eff, t0, vs_off in rows:
        print("| %s | %d | %s | %d | %.1f | %s | %s | %.0f %% (t0=%d) | %s |" % (
            bb, batch, n, t, ms, "" if groups is None else groups, "" if rss is None else "%.0f" % rss,
            100 * eff, t0, "" if vs_off is None else "%.2f" % vs_off))
    for bb, batch, n in sorted({(r[0], r[1], r[2]) for r in rows}):
        ms = {r[3]: r[4] for r in rows if r[:3] == (bb, batch, n)}
        if 2 in ms and 8 in ms:  # the goal: >= 70 % from 2 to 8 threads at batch 8
            print("%s b%d %s: efficiency from 2 to 8 threads %.0f %%" % (bb, batch, n, 100 * ms[2] * 2 / (ms[8] * 8)))
    for n in notes:
        print("note:", n)
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    print("command: python benchmarks/bench_streams.py " + " ".join(sys.argv[1:] if argv is None else argv))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
