"""mmhuman3d's CLIFF crop (cliff.crop(..., family="mmhuman3d-res50"); C: CLIFF_WINDOW_AFFINE)
against the steps of its test pipeline (docs/official.md#mmhuman3d-crop, docs/crop.md#mmhuman3d):

1. the dataset's box rule: centre (x + w/2, y + h/2), side S = max(w, h) (boxes enlarged by the
   family's 1.2 first, as mmhuman3d's converters do);
2. get_affine_transform(centre, (S, S), 0, (192, 256)): three float32 point pairs solved by
   cv2.getAffineTransform;
3. cv2.warpAffine(img, M, (192, 256), INTER_LINEAR) on the uint8 image, zero border;
4. Normalize: RGB, (v - mean) / std with mean/std in 0..255.

Step 3 is written here in NumPy as OpenCV 4.x computes it for uint8 images (the versions of
mmhuman3d's time: inverse map, 1/32-pixel fixed-point positions, 15-bit weights, rounding);
that NumPy warp was checked equal to cv2.warpAffine of opencv-python-headless 4.10.0.84 on these
cases. OpenCV 5.1.0 computes warpAffine differently: compared to it the crops differ by a few
uint8 levels on noise (measured and bounded below on a photo).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import cliff

cv2 = pytest.importorskip("cv2")

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
OW, OH = 192, 256
RESCALE = 1.2
PHOTO = os.path.join(os.path.dirname(cliff.__file__), "data", "astronaut.jpg")


def center_side(xyxy, rescale=RESCALE):
    """Centre and side S. cliff's crops take (centre, scale) with S = 200 * scale, so S is
    computed as 200 * (max(w, h) * rescale / 200): it can differ from max(w, h) * rescale in
    the last bit, which moves float32 points of step 2 and hence whole rows of the warp."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    w, h = x2 - x1, y2 - y1
    return np.array([x1 + w / 2, y1 + h / 2]), 200.0 * (max(w, h) * rescale / 200.0)


def affine_matrix(center, side):
    """get_affine_transform(center, [side, side], 0, (192, 256)) (rot 0, shift 0, pixel_std 1)."""
    src = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([0.0, side * -0.5])
    d = src[0] - src[1]
    src[2] = src[1] + np.array([-d[1], d[0]], np.float32)
    dst = np.zeros((3, 2), np.float32)
    dst[0] = [OW * 0.5, OH * 0.5]
    dst[1] = np.array([OW * 0.5, OH * 0.5]) + np.array([0.0, OW * -0.5])
    d = dst[0] - dst[1]
    dst[2] = dst[1] + np.array([-d[1], d[0]], np.float32)
    return cv2.getAffineTransform(src, dst)


def warp_affine_u8(img, M):
    """OpenCV 4.x cv2.warpAffine(img, M, (OW, OH), flags=INTER_LINEAR) for uint8, zero border."""
    m = M.astype(np.float64).ravel().copy()
    D = m[0] * m[4] - m[1] * m[3]
    D = 1.0 / D if D != 0 else 0.0
    a11, a22 = m[4] * D, m[0] * D
    m[0], m[4] = a11, a22
    m[1] *= -D
    m[3] *= -D
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    x = np.arange(OW, dtype=np.float64)
    y = np.arange(OH, dtype=np.float64)[:, None]
    X = (np.rint((m[1] * y + m[2]) * 1024).astype(np.int64) + 16 + np.rint(m[0] * x * 1024).astype(np.int64)) >> 5
    Y = (np.rint((m[4] * y + m[5]) * 1024).astype(np.int64) + 16 + np.rint(m[3] * x * 1024).astype(np.int64)) >> 5
    sx, sy, fx, fy = X >> 5, Y >> 5, X & 31, Y & 31
    H, W = img.shape[:2]
    acc = np.zeros((OH, OW, 3), np.int64)
    for dy, dx, w in ((0, 0, (32 - fy) * (32 - fx)), (0, 1, (32 - fy) * fx), (1, 0, fy * (32 - fx)), (1, 1, fy * fx)):
        yy, xx = sy + dy, sx + dx
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        v = img[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)].astype(np.int64) * inside[..., None]
        acc += v * (32 * w)[..., None]
    return np.clip((acc + (1 << 14)) >> 15, 0, 255).astype(np.uint8)


def normalize(u8_rgb):
    return np.transpose((u8_rgb.astype(np.float32) - MEAN) / STD, (2, 0, 1))


def release_crop(img_rgb, xyxy, warp=warp_affine_u8):
    """MeshAffine + Normalize(to_rgb=True) on the BGR image mmcv loads; (3, 256, 192) float32."""
    center, side = center_side(xyxy)
    bgr = np.ascontiguousarray(img_rgb[..., ::-1])
    return normalize(warp(bgr, affine_matrix(center, side))[..., ::-1])


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(19).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def check(image, boxes):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = cliff.crop(image, boxes, family="mmhuman3d-res50")
    assert out["crops"].shape == (len(boxes), 3, OH, OW)
    for i, box in enumerate(boxes):
        # the same uint8 values; the two normalisations differ by float32 rounding only
        np.testing.assert_allclose(out["crops"][i], release_crop(image, box), rtol=0, atol=1e-5, err_msg=str(box))
        c, s = center_side(box)
        np.testing.assert_array_equal(out["center"][i], c)
        assert out["boxes"][i, 2] == pytest.approx(s, rel=1e-6)  # bbox_info's b is the side S


def test_inside_the_image(image):
    check(image, [[100, 50, 300, 400], [50.3, 20.7, 420.1, 470.9], [200.5, 100.25, 260.75, 180.5]])


def test_partly_outside_the_image(image):
    check(image, [[-100, -50, 200, 300], [600, 400, 900, 700], [-300, 200, 10, 900]])


def test_tiny_and_huge_boxes(image):
    check(image, [[10, 10, 13, 12], [5, 5, 6, 6], [-2000, -1500, 3000, 2500]])


def test_wide_boxes_use_the_width(image):
    """S = max(w, h): a wide box's crop is wider than CLIFF's 4:3 window would make it."""
    check(image, [[20, 200, 620, 300]])


def test_numpy_warp_is_opencv_4_warp_affine(image):
    """The reference's warp is cv2.warpAffine itself where OpenCV still computes in fixed point."""
    if tuple(int(v) for v in cv2.__version__.split(".")[:2]) > (4, 10):
        pytest.skip(f"OpenCV {cv2.__version__}: its warpAffine is not the fixed-point one (checked with 4.10)")
    for box in ([100, 50, 300, 400], [-100, -50, 200, 300], [10, 10, 13, 12]):
        M = affine_matrix(*center_side(box))
        np.testing.assert_array_equal(warp_affine_u8(image, M),
                                      cv2.warpAffine(image, M, (OW, OH), flags=cv2.INTER_LINEAR))


def test_photo_against_the_installed_opencv():
    """Whatever OpenCV is installed: on a photo the crops agree to 3 uint8 levels, and at most
    1% of the values differ by more than 1 (OpenCV 5.1.0's warp: 5.5% of the values
    differ, 0.15% by more than 1 level, 3 at most; OpenCV 4.10: none)."""
    img = cliff.read_image(PHOTO)
    box = [48.9, 19.1, 329.2, 425.1]
    out = cliff.crop(img, np.array([box]), family="mmhuman3d-res50")["crops"][0]
    warp = lambda im, M: cv2.warpAffine(im, M, (OW, OH), flags=cv2.INTER_LINEAR)  # noqa: E731
    diff = np.abs(out - release_crop(img, box, warp=warp)) * STD[:, None, None]
    assert diff.max() <= 3.0 + 1e-3
    assert (diff > 1.5).mean() < 0.01


def test_rescale_and_bgr(image):
    box = np.array([[100.0, 50.0, 300.0, 400.0]])
    a = cliff.crop(image, box, family="mmhuman3d-res50", rescale=1.0)
    c, s = center_side(box[0], 1.0)
    ref = normalize(warp_affine_u8(np.ascontiguousarray(image[..., ::-1]), affine_matrix(c, s))[..., ::-1])
    np.testing.assert_allclose(a["crops"][0], ref, rtol=0, atol=1e-5)
    b = cliff.crop(image[..., ::-1], box, family="mmhuman3d-res50", rescale=1.0, bgr=True)
    np.testing.assert_array_equal(a["crops"], b["crops"])


def test_official_families_keep_their_crop(image):
    box = np.array([[100.0, 50.0, 300.0, 400.0]])
    official = cliff.crop(image, box)["crops"]
    mm = cliff.crop(image, box, family="mmhuman3d-res50")["crops"]
    assert official.shape == mm.shape and np.abs(official - mm).max() > 0.1


def test_box_below_one_pixel_is_refused(image):
    with pytest.raises(ValueError, match="too small"):
        cliff.crop(image, [10, 10, 10.5, 10.5], family="mmhuman3d-res50")


def test_random_boxes(image):
    """60 boxes of 1..1500 pixels anywhere around the image: identical uint8 values. (Such
    boxes caught a float32 rounding the compiler had dropped from the point construction.)"""
    rng = np.random.default_rng(5)
    x1, y1 = rng.uniform(-300, 600, 60), rng.uniform(-300, 450, 60)
    wh = np.exp(rng.uniform(0, np.log(1500), (60, 2)))
    check(image, np.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], 1))
