"""The releases' own crops: cliff.crop(family=...) vs each release's Python preprocessing,
same thread count, one process, the peers alternated; medians of the repeats.

- bedlam-cliff: BEDLAM's image_utils.crop (tracker square box, float64 zero canvas,
  skimage.transform.resize to 224 x 224) + /255 and ImageNet normalisation, per box, np.stack;
  cliff's default resize="skimage" (docs/crop.md#bedlam-resize).
- mmhuman3d-res50: mmhuman3d's MeshAffine + Normalize (get_affine_transform through
  cv2.getAffineTransform, cv2.warpAffine INTER_LINEAR on the uint8 BGR image, to RGB,
  (v - mean)/std in 0..255), per box, np.stack; cliff's CLIFF_WINDOW_AFFINE
  (docs/crop.md#mmhuman3d). The installed OpenCV's warpAffine may differ from the OpenCV 4.x
  one cliff reproduces (max|diff| column).

    PYTHONPATH=$PWD python benchmarks/bench_crop_families.py [--threads 1 2] [--repeats 9]
"""
import argparse
import statistics

import cv2
import numpy as np
from skimage.transform import resize as sk_resize

import cliff
from _machine import cpu_description
from bench_crop import timeit  # median of `repeats` calls after one warm-up

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
MEAN255 = np.array([123.675, 116.28, 103.53], np.float32)
STD255 = np.array([58.395, 57.12, 57.375], np.float32)


def bedlam_release(img, boxes, res=224):
    out = []
    H, W = img.shape[:2]
    for x1, y1, x2, y2 in boxes:
        w, h = x2 - x1, y2 - y1
        cx, cy, hh = x1 + w / 2, y1 + h / 2, max(w, h)
        t = np.array([[res / hh, 0, res * (-cx / hh + 0.5)], [0, res / hh, res * (-cy / hh + 0.5)], [0, 0, 1.0]])
        inv = np.linalg.inv(t)
        ul = (inv @ [0, 0, 1.0])[:2].astype(int)
        br = (inv @ [res, res, 1.0])[:2].astype(int)
        canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], 3))
        ox0, oy0, ox1, oy1 = max(0, ul[0]), max(0, ul[1]), min(W, br[0]), min(H, br[1])
        if ox1 > ox0 and oy1 > oy0:
            canvas[oy0 - ul[1]:oy1 - ul[1], ox0 - ul[0]:ox1 - ul[0]] = img[oy0:oy1, ox0:ox1]
        crop = sk_resize(canvas, (res, res)) / 255.0
        out.append(np.transpose((crop - MEAN) / STD, (2, 0, 1)))
    return np.stack(out).astype(np.float32)


def mmhuman3d_release(img_bgr, boxes, rescale=1.2):
    out = []
    for x1, y1, x2, y2 in boxes:
        w, h = x2 - x1, y2 - y1
        c = np.array([x1 + w / 2, y1 + h / 2])
        s = 200.0 * (max(w, h) * rescale / 200.0)
        src = np.zeros((3, 2), np.float32)
        src[0], src[1] = c, c + np.array([0.0, -0.5 * s])
        d = src[0] - src[1]
        src[2] = src[1] + np.array([-d[1], d[0]], np.float32)
        dst = np.array([[96, 128], [96, 32], [0, 32]], np.float32)
        warped = cv2.warpAffine(img_bgr, cv2.getAffineTransform(src, dst), (192, 256), flags=cv2.INTER_LINEAR)
        rgb = warped[..., ::-1].astype(np.float32)
        out.append(np.transpose((rgb - MEAN255) / STD255, (2, 0, 1)))
    return np.stack(out)


def scenes(rng):
    out = []
    for (h, w), n, lo, hi in [((1080, 1920), 8, 250, 1000), ((480, 640), 8, 80, 460)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        bh = rng.uniform(lo, hi, n)
        bw = bh * rng.uniform(0.3, 0.7, n)
        x1 = rng.uniform(-0.1 * w, w - 0.5 * bw)
        y1 = rng.uniform(-0.1 * h, h - 0.7 * bh)
        out.append((f"{w}x{h}, {n} people", img, np.stack([x1, y1, x1 + bw, y1 + bh], 1)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    print(cpu_description())
    print(f"OpenCV {cv2.__version__}; medians of {args.repeats} (3 alternated rounds)")
    print(f"{'family':16s} {'scene':20s} {'threads':>7s} {'release crops/s':>16s} {'cliff crops/s':>14s} "
          f"{'ratio':>6s} {'max|diff|':>9s}")
    for name, img, boxes in scenes(np.random.default_rng(0)):
        bgr = np.ascontiguousarray(img[..., ::-1])
        peers = [("bedlam-cliff", lambda: bedlam_release(img, boxes)),
                 ("mmhuman3d-res50", lambda: mmhuman3d_release(bgr, boxes))]
        for fam, release in peers:
            for th in args.threads:
                cv2.setNumThreads(th)
                cliff.set_num_threads(th)
                ours = lambda: cliff.crop(img, boxes, family=fam)["crops"]  # noqa: E731
                diff = float(np.abs(release() - ours()).max())
                t_ref, t_ours = [], []
                k = args.repeats // 3 + 1
                for _ in range(3):
                    t_ref.append(timeit(release, k))
                    t_ours.append(timeit(ours, k))
                r, o = statistics.median(t_ref), statistics.median(t_ours)
                n = len(boxes)
                print(f"{fam:16s} {name:20s} {th:7d} {n / r:16.1f} {n / o:14.1f} {r / o:5.1f}x {diff:9.2e}")
    cliff.set_num_threads(0)


if __name__ == "__main__":
    main()
