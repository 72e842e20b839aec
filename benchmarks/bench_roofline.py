"""How close the networks run to this CPU's FMA throughput, and what that allows against a peer.

    python benchmarks/bench_roofline.py [--backbones hr48 res50] [--batches 1 8] [--threads 2]
        [--rounds 5] [--peer-ms hr48:1:185.9 ...] [--isa avx2]

--isa avx2 runs the whole engine as on an AVX2-only CPU: oneDNN capped with
ONEDNN_MAX_CPU_ISA=AVX2 and our Winograd kernels with CLIFF_WINOGRAD_ISA=avx2 (set before the
models load), and the peak measured with the AVX2 probe.

1. The FMA peak: ``benchmarks/fma_peak.c`` compiled here with the system C compiler (12
   independent FMA chains per thread, AVX-512 and AVX2 variants where cpuid has them), run on
   1 and on --threads threads: GFLOP/s.
2. Per layer: ``Model.profile`` (each layer alone, median of --rounds) and ``Model.layer_macs``
   (multiply-adds per image in the direct form). Per kind of kernel (oneDNN's 1x1 and direct
   convolutions, our Winograd layers): time, share, GFLOP/s counted in the direct form
   ("effective", what a peer with direct convolutions would need to match) and counted as the
   multiplications actually done (Winograd F(m x m, 3 x 3) does (m+2)^2 / (9 m^2) of them:
   1/4 for F(4x4), 4/9 for F(2x2); the transforms are not counted), and that rate as a fraction
   of the probe's peak.
3. Per network: its multiply-adds in the direct form and as run, their ratio R (the factor by
   which the Winograd layers cut the arithmetic), and the bound that follows: a peer that
   runs direct convolutions at a fraction e of the same peak takes at least
   direct GFLOP / (e * peak); at equal efficiency cliff can be at most R times faster. With
   --peer-ms BACKBONE:BATCH:MS (a peer's time from bench_model.py on this machine) the peer's
   efficiency e is printed too.

Random official-layout weights (``cliff._standin``); the time of a layer does not depend on
its values. CPU model and ISA printed. On a shared machine the per-layer medians are inflated
by waiting for a core; compare within one run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_description  # noqa: E402

HERE = Path(__file__).resolve().parent
#: multiplications of a Winograd F(m x m, 3 x 3) layer per multiply-add of the direct form
WINOGRAD_SHARE = {"winograd_f4x4": 36 / 144, "winograd_f2x2": 16 / 36}


def fma_peak(threads: int) -> dict:
    """{'avx512': GFLOP/s, 'avx2': GFLOP/s} of `threads` threads, from fma_peak.c ({} without
    a C compiler)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return {}
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "fma_peak")
        subprocess.run([cc, "-O2", "-ffp-contract=fast", "-fopenmp", "-o", exe,
                        str(HERE / "fma_peak.c")], check=True)
        out = subprocess.run([exe, str(threads)], check=True, capture_output=True, text=True).stdout
    return {k: float(v) for k, v in (line.split() for line in out.splitlines())}


def kernel_kind(impl: str) -> str:
    """'winograd_f4x4', 'brgconv_1x1', ... from an implementation name such as
    'cliff:winograd_f4x4:avx512' or 'brgconv_1x1:avx512_core'."""
    parts = impl.split(":")
    return parts[1] if parts[0] == "cliff" and len(parts) > 1 else parts[0]


def roofline(backbone: str, batch: int, threads: int, rounds: int, peak: float, peer_ms=None):
    import cliff
    from cliff._standin import standin_files
    ckpt, _ = standin_files(backbone)
    model = cliff.load_model(ckpt, threads=threads)
    layers, macs = model.layers(), model.layer_macs()
    runs = [model.profile(batch, 1) for _ in range(rounds)]
    ms = [statistics.median(r[i][2] for r in runs) for i in range(len(layers))]
    total = sum(ms)
    kinds: "OrderedDict[str, list]" = OrderedDict()
    for (name, kind, impl), t, mac in zip(layers, ms, macs):
        if kind != "conv":
            k = kind
        else:
            k = kernel_kind(impl)
        row = kinds.setdefault(k, [0, 0.0, 0.0, 0.0])
        row[0] += 1
        row[1] += t
        row[2] += 2.0 * batch * mac / 1e9                                   # GFLOP, direct form
        row[3] += 2.0 * batch * mac * WINOGRAD_SHARE.get(k, 1.0) / 1e9     # GFLOP as run
    print(f"\n{backbone}, batch {batch}, {threads} threads: {total:.1f} ms over {len(layers)} layers "
          f"(sum of per-layer medians of {rounds})")
    print("| kernel | layers | ms | share | GFLOP (direct form) | effective GFLOP/s | GFLOP/s as run "
          "| as run / peak |")
    print("|---|---|---|---|---|---|---|---|")
    for k, (n, t, gd, gr) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        eff = gd / t * 1e3 if t > 0 and gd else 0.0
        run = gr / t * 1e3 if t > 0 and gr else 0.0
        frac = f"{run / peak:.0%}" if peak and run else "–"
        print(f"| {k} | {n} | {t:.2f} | {t / total:.0%} | {gd:.2f} | {eff:.0f} | {run:.0f} | {frac} |")
    gd = sum(r[2] for r in kinds.values())
    gr = sum(r[3] for r in kinds.values())
    R = gd / gr
    print(f"network: {gd:.2f} GFLOP in the direct form, {gr:.2f} as run: R = {R:.3f}; "
          f"cliff: {gd / total * 1e3:.0f} GFLOP/s effective, {gr / total * 1e3:.0f} as run"
          + (f" = {gr / total * 1e3 / peak:.0%} of the {peak:.0f} GFLOP/s peak" if peak else ""))
    if peak:
        print(f"a peer with direct convolutions at 100 % of the peak: >= {gd / peak * 1e3:.1f} ms; "
              f"cliff at 100 %: >= {gr / peak * 1e3:.1f} ms; at equal efficiency cliff is at most "
              f"{R:.2f}x faster")
    if peer_ms:
        e = gd / peer_ms * 1e3 / peak if peak else float("nan")
        print(f"peer at {peer_ms:.1f} ms: {gd / peer_ms * 1e3:.0f} GFLOP/s = {e:.0%} of the peak; "
              f"cliff's layers sum to {peer_ms / total:.2f}x its time")
    model.close()
    return dict(total_ms=total, gflop_direct=gd, gflop_run=gr, R=R)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["hr48", "res50"], choices=["hr48", "res50"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: run oneDNN and the Winograd kernels as on an AVX2-only CPU")
    ap.add_argument("--peer-ms", nargs="*", default=[],
                    help="BACKBONE:BATCH:MS, a peer's time on this machine (bench_model.py)")
    a = ap.parse_args()
    if a.threads < 1 or a.rounds < 1 or any(b < 1 or b > 8 for b in a.batches):
        ap.error("--threads and --rounds must be >= 1, --batches in 1..8")
    peers = {}
    for s in a.peer_ms:
        try:
            bb, b, t = s.split(":")
            peers[(bb, int(b))] = float(t)
        except ValueError:
            ap.error(f"--peer-ms: expected BACKBONE:BATCH:MS, got {s!r}")
    if a.isa == "avx2":  # read when oneDNN initialises and when a Winograd layer is created
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["CLIFF_WINOGRAD_ISA"] = "avx2"
    print("CPU:", cpu_description(), "| engine ISA:", a.isa)
    p1, pt = fma_peak(1), fma_peak(a.threads)
    isa = "avx512" if "avx512" in pt and a.isa == "native" else "avx2"
    print("FMA peak, GFLOP/s: 1 thread", p1 or "(no C compiler)", f"| {a.threads} threads", pt or "")
    peak = pt.get(isa, 0.0)
    for bb in a.backbones:
        for b in a.batches:
            roofline(bb, b, a.threads, a.rounds, peak, peers.get((bb, b)))
    print(f"\npeak used: {peak:.1f} GFLOP/s ({isa}, {a.threads} threads)")


if __name__ == "__main__":
    main()
