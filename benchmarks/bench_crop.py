"""cliff.crop vs the official-style OpenCV/NumPy preprocessing, same thread count, one run.

Ours in both resize modes: "opencv" (default, OpenCV's own code) and "ipp" (what this
IPP-enabled cv2 computes; max|diff| should be 0). The peer does what the official demo does
per box (docs/official.md#box, #crop): centre/scale,
np.linalg.inv for the window corners, a float32 zero canvas filled by slicing, cv2.resize
(default build, i.e. with IPP), /255, ImageNet normalisation, HWC -> CHW, then np.stack.
Both peers run alternately in this process; medians of the repeats are reported.

    PYTHONPATH=$PWD python benchmarks/bench_crop.py [--threads 1 2] [--repeats 15]
"""
import argparse
import statistics
import time

import cv2
import numpy as np

import cliff

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def official_style(img_rgb, boxes, rescale=1.1):
    out = []
    H, W = img_rgb.shape[:2]
    for x1, y1, x2, y2 in boxes:
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        scale = max((x2 - x1) * (256 / 192), y2 - y1) / 200.0 * rescale
        h = 200 * scale
        w = h / (256 / 192)
        t = np.array([[192 / w, 0, 192 * (-cx / w + 0.5)], [0, 256 / h, 256 * (-cy / h + 0.5)],
                      [0, 0, 1.0]])
        inv = np.linalg.inv(t)
        ul = np.rint(inv @ [0, 0, 1.0])[:2].astype(int)
        br = np.rint(inv @ [192, 256, 1.0])[:2].astype(int)
        canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], 3), np.float32)
        ox0, oy0, ox1, oy1 = max(0, ul[0]), max(0, ul[1]), min(W, br[0]), min(H, br[1])
        if ox1 > ox0 and oy1 > oy0:
            canvas[oy0 - ul[1]:oy1 - ul[1], ox0 - ul[0]:ox1 - ul[0]] = img_rgb[oy0:oy1, ox0:ox1]
        crop = cv2.resize(canvas, (192, 256)) / 255.0
        out.append(np.transpose((crop - MEAN) / STD, (2, 0, 1)))
    return np.stack(out)


def scenes(rng):
    """(name, image, boxes): person-sized boxes, some crossing the border."""
    out = []
    for (h, w), n, lo, hi in [((1080, 1920), 8, 250, 1000), ((480, 640), 8, 80, 460),
                              ((2160, 3840), 4, 800, 2400)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        bh = rng.uniform(lo, hi, n)
        bw = bh * rng.uniform(0.3, 0.7, n)
        x1 = rng.uniform(-0.1 * w, w - 0.5 * bw)
        y1 = rng.uniform(-0.1 * h, h - 0.7 * bh)
        boxes = np.stack([x1, y1, x1 + bw, y1 + bh], 1).astype(np.float32)
        out.append((f"{w}x{h}, {n} people", img, boxes))
    return out


def timeit(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"cliff.crop vs official-style OpenCV {cv2.__version__} path "
          f"(IPP {'on' if cv2.ipp.useIPP() else 'off'}); medians of {args.repeats}")
    print(f"{'scene':24s} {'threads':>7s} {'official crops/s':>17s} {'cliff crops/s':>14s} "
          f"{'ratio':>6s} {'ipp crops/s':>12s} {'ratio':>6s} {'max|diff|':>9s} {'ipp':>8s}")
    for name, img, boxes in scenes(rng):
        n = len(boxes)
        for th in args.threads:
            cv2.setNumThreads(th)
            cliff.set_num_threads(th)
            ref = official_style(img, boxes)
            diff = float(np.abs(ref - cliff.crop(img, boxes)["crops"]).max())
            diff_ipp = float(np.abs(ref - cliff.crop(img, boxes, resize="ipp")["crops"]).max())
            t_ref, t_ours, t_ipp = [], [], []
            k = args.repeats // 3 + 1
            for _ in range(3):  # alternate the peers
                t_ref.append(timeit(lambda: official_style(img, boxes), k))
                t_ours.append(timeit(lambda: cliff.crop(img, boxes), k))
                t_ipp.append(timeit(lambda: cliff.crop(img, boxes, resize="ipp"), k))
            r, o, p = (statistics.median(t) for t in (t_ref, t_ours, t_ipp))
            print(f"{name:24s} {th:7d} {n / r:17.0f} {n / o:14.0f} {r / o:5.1f}x {n / p:12.0f} "
                  f"{r / p:5.1f}x {diff:9.2e} {diff_ipp:8.2e}")
    cliff.set_num_threads(0)


if __name__ == "__main__":
    main()
