"""Where the time goes: per-layer times of HR48 / Res50, and direct vs Winograd per 3x3 shape.

    python benchmarks/bench_conv_layers.py --backbones hr48 res50 --batches 1 8 --threads 2

For each backbone and batch size, loads the network three times in this process with
CLIFF_CONV = direct, winograd2 and winograd4 (read at load; see docs/performance.md) and
calls ``Model.profile`` on each in alternating rounds (every layer executed alone with a wait
after it; median over the rounds). Prints:

- the share of the total layer time taken by the stride-1 3x3 convolutions (the layers that
  run as Winograd layers when forced), and by the other layers;
- per shape of those layers (input channels -> output channels at the map size): how many
  layers, their summed time with direct convolutions (oneDNN), F(2x2,3x3) and F(4x4,3x3)
  (ours), and the speed-up of the best Winograd tile over direct.

Random official-layout weights (``cliff._standin``); the time of a layer does not depend on
its values. The machine is shared: the three variants alternate, so compare the columns of one
run, not runs with each other. CPU model and ISA printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import OrderedDict

from _machine import cpu_description  # noqa: E402

ALGOS = ("direct", "winograd2", "winograd4")


def profile(backbone: str, batch: int, threads: int, rounds: int) -> None:
    import cliff
    from cliff._standin import standin_files
    ckpt, _ = standin_files(backbone)
    models = {}
    for a in ALGOS:
        os.environ["CLIFF_CONV"] = a
        models[a] = cliff.load_model(ckpt, threads=threads)
    os.environ.pop("CLIFF_CONV")
    layers = models["winograd4"].layers()
    wino = [impl.startswith("cliff:winograd") for _, _, impl in layers]
    runs = {a: [] for a in ALGOS}
    for r in range(rounds):
        for a in ALGOS[r % 3:] + ALGOS[:r % 3]:
            runs[a].append([ms for _, _, ms in models[a].profile(batch, 3)])
    med = {a: [statistics.median(col) for col in zip(*runs[a])] for a in ALGOS}
    # the map size of each stride-1 3x3 layer: its channel count fixes its branch/stage
    size = {"hr48": {48: "64x48", 96: "32x24", 192: "16x12", 384: "8x6", 64: "64x48", 32: "64x48"},
            "res50": {64: "64x48", 128: "32x24", 256: "16x12", 512: "8x6"}}[backbone]
    from cliff.model import expected_keys
    keys = expected_keys(backbone)
    groups: "OrderedDict[str, list]" = OrderedDict()
    for i, (name, _, _) in enumerate(layers):
        if not wino[i]:
            continue
        oc, ic = keys[name + ".weight"][:2]
        groups.setdefault("%d->%d @ %s" % (ic, oc, size.get(ic, "?")), []).append(i)
    total = sum(med["direct"])
    w3 = sum(t for t, w in zip(med["direct"], wino) if w)
    print("\n%s batch %d, %d threads: %d layers, %.1f ms in all (direct); stride-1 3x3 convs: "
          "%d layers, %.1f ms (%.0f %%); other layers %.1f ms" % (
              backbone, batch, threads, len(layers), total, sum(wino), w3, 100 * w3 / total, total - w3))
    print("| shape (ic->oc @ HxW) | layers | direct ms | share of total | F(2x2) ms | F(4x4) ms | best Winograd vs direct |")
    print("|---|---|---|---|---|---|---|")
    for k, idx in groups.items():
        t = {a: sum(med[a][i] for i in idx) for a in ALGOS}
        best = min(t["winograd2"], t["winograd4"])
        print("| %s | %d | %.2f | %.0f %% | %.2f | %.2f | %.2fx |" % (
            k, len(idx), t["direct"], 100 * t["direct"] / total, t["winograd2"], t["winograd4"],
            t["direct"] / best))
    tw = {a: sum(med[a]) for a in ALGOS}
    print("sum of layer times: direct %.1f ms, all-F(2x2) %.1f ms, all-F(4x4) %.1f ms" % (
        tw["direct"], tw["winograd2"], tw["winograd4"]))
    for m in models.values():
        m.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backbones", nargs="+", default=["hr48", "res50"], choices=["hr48", "res50"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args(argv)
    print("CPU: %s" % cpu_description())
    import cliff
    from cliff.model import expected_keys  # noqa: F401 - fail early when missing
    ci = cliff.info()
    print("cliff %s, oneDNN %s (ISA %s); load average %.1f" % (
        ci["cliff"], ci["onednn"], ci["onednn_isa"], os.getloadavg()[0]))
    for bb in opts.backbones:
        for n in opts.batches:
            profile(bb, n, opts.threads, opts.rounds)
    print("command: python benchmarks/bench_conv_layers.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
