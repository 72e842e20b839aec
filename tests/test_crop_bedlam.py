"""BEDLAM's 224 x 224 crop (cliff.crop(..., family="bedlam-cliff")) against an OpenCV
implementation of the release's demo steps (docs/official.md#bedlam-crop, docs/crop.md#bedlam):

1. the multi-person tracker's box: w = x2 - x1, h = y2 - y1, centre (x1 + w/2, y1 + h/2),
   side max(w, h); scale = side / 200 (no enlargement);
2. image_utils.crop: T = get_transform(centre, scale, (224, 224)); corners
   inv(T) (0, 0, 1) and inv(T) (224, 224, 1) truncated toward zero (astype(int));
3. a zero canvas of the window, the image pasted where it overlaps;
4. the resize to 224 x 224 (the release calls skimage's resize; the reference here and the core
   use OpenCV's INTER_LINEAR, see docs/crop.md#bedlam), then (v/255 - mean)/std.
"""
from __future__ import annotations

import numpy as np
import pytest

import cliff

cv2 = pytest.importorskip("cv2")

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
RES = 224


def tracker_box(xyxy):
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    w, h = x2 - x1, y2 - y1
    return np.array([x1 + w / 2, y1 + h / 2]), max(w, h) / 200.0


def bedlam_window(center, scale, res=(RES, RES)):
    h = 200 * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(res[1]) / h
    t[1, 1] = float(res[0]) / h
    t[0, 2] = res[1] * (-float(center[0]) / h + 0.5)
    t[1, 2] = res[0] * (-float(center[1]) / h + 0.5)
    t[2, 2] = 1
    inv = np.linalg.inv(t)

    def transform(pt):
        p = np.dot(inv, np.array([pt[0] - 1, pt[1] - 1, 1.0]).T)
        return p[:2].astype(int) + 1

    ul = transform([1, 1]) - 1
    br = transform([res[0] + 1, res[1] + 1]) - 1
    return ul, br


def bedlam_canvas(img, xyxy, dtype=np.float32):
    """image_utils.crop's first half: the window of the tracker's box on a zero canvas of `dtype`
    (the release's is float64); returns (canvas, center, scale)."""
    center, scale = tracker_box(xyxy)
    ul, br = bedlam_window(center, scale)
    canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], 3), dtype=dtype)
    H, W = img.shape[:2]
    new_x = max(0, -ul[0]), min(br[0], W) - ul[0]
    new_y = max(0, -ul[1]), min(br[1], H) - ul[1]
    old_x = max(0, ul[0]), min(W, br[0])
    old_y = max(0, ul[1]), min(H, br[1])
    if new_x[1] > new_x[0] and new_y[1] > new_y[0]:
        canvas[new_y[0]:new_y[1], new_x[0]:new_x[1]] = img[old_y[0]:old_y[1], old_x[0]:old_x[1]]
    return canvas, center, scale


def bedlam_crop(img, xyxy):
    canvas, center, scale = bedlam_canvas(img, xyxy)
    out = cv2.resize(canvas, (RES, RES))
    out = (out / 255.0 - MEAN) / STD
    return np.transpose(out, (2, 0, 1)).astype(np.float32), center, scale


@pytest.mark.parametrize("h,w", [(480, 640), (333, 517), (1001, 299)])
def test_matches_opencv_reference(opencv_without_ipp, h, w):
    rng = np.random.default_rng(h)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    x1 = rng.uniform(-w / 3, w, 12)
    y1 = rng.uniform(-h / 3, h, 12)
    boxes = np.stack([x1, y1, x1 + rng.uniform(8, w, 12), y1 + rng.uniform(8, h, 12)], 1)
    out = cliff.crop(img, boxes, family="bedlam-cliff", resize="opencv")
    assert out["crops"].shape == (12, 3, RES, RES)
    for i, box in enumerate(boxes):
        ref, c, s = bedlam_crop(img, box)
        np.testing.assert_allclose(out["crops"][i], ref, atol=1e-4, err_msg=str(box))
        np.testing.assert_array_equal(out["center"][i], c)
        assert out["scale"][i] == pytest.approx(s, rel=1e-15)
        # bbox_info's box: float32 centre and float32(scale) * 200 = max(w, h)
        np.testing.assert_array_equal(out["boxes"][i], np.array([c[0], c[1], np.float32(s) * np.float32(200)],
                                                                np.float32))


def test_negative_corners_truncate_toward_zero(opencv_without_ipp):
    """A window starting left of / above the image: astype(int) truncates -3.5 to -3, not -4."""
    img = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    box = np.array([[-50.25, -20.75, 90.5, 150.25]])
    c, s = tracker_box(box[0])
    ul, br = bedlam_window(c, s)
    assert ul[0] < 0 and ul[1] < 0
    out = cliff.crop(img, box, family="bedlam-cliff", resize="opencv")
    np.testing.assert_allclose(out["crops"][0], bedlam_crop(img, box[0])[0], atol=1e-4)


def test_default_family_is_unchanged():
    img = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 200.0, 230.0]])
    a = cliff.crop(img, boxes)
    b = cliff.crop(img, boxes, family="cliff-hr48")
    assert a["crops"].shape == (1, 3, 256, 192)
    np.testing.assert_array_equal(a["crops"], b["crops"])


def test_bedlam_crops_feed_the_bedlam_network_shape():
    img = np.zeros((100, 100, 3), np.uint8)
    out = cliff.crop(img, [10, 10, 60, 90], family="bedlam-cliff-x", layout="nhwc")
    assert out["crops"].shape == (1, RES, RES, 3)
