"""cliff.crop against an OpenCV-based implementation of the official preprocessing.

The reference below follows the official steps literally (docs/official.md#box, #crop): box -> centre
and scale with the detector's float32 values promoted to float64 as NumPy 1.x does, the 3x3
affine inverted with np.linalg.inv, corners rounded with Python's round, a float32 zero canvas
filled by slicing, cv2.resize to (192, 256) with the default INTER_LINEAR, then ImageNet
normalisation in float32 and HWC -> CHW.

OpenCV builds that include Intel IPP (every PyPI wheel on x86, 4.x and 5.x, hence what the
official demo actually computed) route float32
INTER_LINEAR resizes through IPP, whose source coordinates and interpolation formula are not
OpenCV's own. cliff.crop reproduces OpenCV's own code (compared with IPP switched
off through cv2.ipp.setUseIPP) with resize="opencv", and IPP's with resize="ipp", the default
(compared with IPP on).
"""
import threading

import numpy as np
import pytest

import cliff
from test_geometry import official_center_scale_f32

cv2 = pytest.importorskip("cv2")

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TOL = 1e-4


# ---- the reference ---------------------------------------------------------------------


def official_center_scale(box, rescale=1.1):
    """bbox_from_detector on a float32 detection row (NumPy 1.x promotion), the reference
    written in test_geometry.py."""
    (cx, cy), scale = official_center_scale_f32(box, rescale)
    return np.array([cx, cy]), scale


def official_window(center, scale, res=(256, 192)):
    """get_transform / transform / the corners of crop(), written out."""
    h = 200 * scale
    w = h / (res[0] / float(res[1]))
    t = np.zeros((3, 3))
    t[0, 0] = float(res[1]) / w
    t[1, 1] = float(res[0]) / h
    t[0, 2] = res[1] * (-float(center[0]) / w + 0.5)
    t[1, 2] = res[0] * (-float(center[1]) / h + 0.5)
    t[2, 2] = 1
    inv = np.linalg.inv(t)

    def transform(pt):
        p = np.dot(inv, np.array([pt[0] - 1, pt[1] - 1, 1.0]).T)
        return np.array([round(p[0]), round(p[1])], dtype=int) + 1

    ul = transform([1, 1]) - 1
    br = transform([res[1] + 1, res[0] + 1]) - 1
    return ul, br


def official_crop(img_rgb, center, scale):
    ul, br = official_window(center, scale)
    canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], 3), dtype=np.float32)
    H, W = img_rgb.shape[:2]
    new_x = max(0, -ul[0]), min(br[0], W) - ul[0]
    new_y = max(0, -ul[1]), min(br[1], H) - ul[1]
    old_x = max(0, ul[0]), min(W, br[0])
    old_y = max(0, ul[1]), min(H, br[1])
    try:
        canvas[new_y[0]:new_y[1], new_x[0]:new_x[1]] = img_rgb[old_y[0]:old_y[1], old_x[0]:old_x[1]]
    except ValueError:  # no overlap: the official code prints the error and keeps zeros
        pass
    img = cv2.resize(canvas, (192, 256))
    img = img / 255.0
    img = (img - MEAN) / STD
    return np.transpose(img, (2, 0, 1)), (ul, br)


def reference(img_rgb, boxes, rescale=1.1):
    crops, centers, scales, windows = [], [], [], []
    for box in boxes:
        c, s = official_center_scale(box, rescale)
        crop, win = official_crop(img_rgb, c, s)
        crops.append(crop)
        centers.append(c)
        scales.append(s)
        windows.append(win)
    return np.stack(crops), np.array(centers), np.array(scales), windows


def random_image(rng, h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def grid_boxes(rng, h, w, n):
    """Boxes on a 1/8-pixel grid (float32 sums exact), many leaving the image on some side."""
    x1 = rng.integers(-w // 2, w, n) + rng.integers(0, 8, n) / 8
    y1 = rng.integers(-h // 2, h, n) + rng.integers(0, 8, n) / 8
    bw = rng.integers(1, 3 * w // 2 + 2, n) + rng.integers(0, 8, n) / 8
    bh = rng.integers(1, 3 * h // 2 + 2, n) + rng.integers(0, 8, n) / 8
    return np.stack([x1, y1, x1 + bw, y1 + bh], axis=1).astype(np.float32)


def assert_matches(img, boxes, rescale=1.1):
    out = cliff.crop(img, boxes, rescale, resize="opencv")
    ref, c, s, windows = reference(img, boxes, rescale)
    assert out["crops"].shape == (len(boxes), 3, 256, 192) and out["crops"].dtype == np.float32
    err = np.abs(out["crops"] - ref).max(axis=(1, 2, 3))
    bad = np.flatnonzero(err > TOL)
    assert bad.size == 0, [(boxes[i].tolist(), windows[i], float(err[i])) for i in bad[:5]]
    np.testing.assert_array_equal(out["center"], c)
    np.testing.assert_allclose(out["scale"], s, rtol=1e-15, atol=0)
    return out, ref, windows


# ---- exact comparisons -----------------------------------------------------------------


@pytest.mark.parametrize("h,w", [(480, 640), (333, 517), (37, 53), (1001, 299)])
def test_random_boxes_match_opencv_reference(opencv_without_ipp, h, w):
    """Random boxes on random images of odd sizes: inside, leaving the image on every side,
    wider and taller than the image, entirely outside."""
    rng = np.random.default_rng(h * 7 + w)
    img = random_image(rng, h, w)
    boxes = grid_boxes(rng, h, w, 60)
    out, ref, windows = assert_matches(img, boxes)
    # The implementation is not merely close: it does OpenCV's float operations one by one.
    assert np.array_equal(out["crops"], ref)
    sides = [(ul[0] < 0, ul[1] < 0, br[0] > w, br[1] > h) for ul, br in windows]
    assert all(any(s[k] for s in sides) for k in range(4)), "every side must be crossed"


def test_random_float_boxes(opencv_without_ipp):
    """Arbitrary float32 boxes (not on a grid)."""
    rng = np.random.default_rng(5)
    img = random_image(rng, 240, 320)
    x1 = rng.uniform(-100, 300, 80)
    y1 = rng.uniform(-100, 220, 80)
    boxes = np.stack([x1, y1, x1 + rng.uniform(1, 400, 80), y1 + rng.uniform(1, 300, 80)], 1)
    assert_matches(img, boxes.astype(np.float32))


def test_tiny_wide_and_tall_boxes(opencv_without_ipp):
    rng = np.random.default_rng(6)
    img = random_image(rng, 300, 400)
    boxes = np.array([
        [100, 100, 102, 103],       # tiny: window of a few pixels, strong upscaling
        [10.5, 20.25, 12, 21],      # tiny, fractional
        [0, 0, 1, 1],               # one pixel at the corner
        [399, 299, 400, 300],       # one pixel at the opposite corner
        [-50, 140, 450, 160],       # very wide, leaves left and right
        [190, -80, 200, 380],       # very tall, leaves top and bottom
        [-1000, -1000, 1400, 1300], # far larger than the image
        [-300, -300, -200, -100],   # entirely outside (all zeros -> -mean/std)
    ], dtype=np.float32)
    out, _, windows = assert_matches(img, boxes)
    assert (windows[0][1] - windows[0][0]).max() < 8
    np.testing.assert_allclose(out["crops"][-1], np.broadcast_to((-MEAN / STD)[:, None, None],
                                                                 (3, 256, 192)), rtol=0, atol=0)


def test_window_corner_ties(opencv_without_ipp):
    """Integer boxes put many corners exactly on x.5 before rounding; the official code rounds
    them half to even after float64 noise from np.linalg.inv, which we reproduce."""
    rng = np.random.default_rng(7)
    img = random_image(rng, 200, 200)
    boxes = []
    for bh in range(10, 200, 10):  # crop height 1.1*bh: x.5 for odd bh/10 -> corners tie
        for x1 in range(40, 44):
            boxes.append([x1, 50, x1 + bh // 2, 50 + bh])
    boxes = np.array(boxes, dtype=np.float32)
    _, _, windows = assert_matches(img, boxes)
    ties = 0
    for box in boxes:
        c, sc = official_center_scale(box)
        w, h = 150 * sc, 200 * sc
        for v in (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2):
            ties += abs(v % 1 - 0.5) < 1e-9
    assert ties >= 20, ties


def test_same_size_window_is_copied(opencv_without_ipp):
    """A 192x256 window: OpenCV copies it (no interpolation)."""
    rng = np.random.default_rng(8)
    img = random_image(rng, 300, 400)
    # rescale 1 and height 256 -> scale 1.28, window 192 x 256
    boxes = np.array([[150.25, 20, 250.25, 276], [-40.25, 100, 60.25, 356], [150, -60, 160, 196]],
                     dtype=np.float32)
    out, ref, windows = assert_matches(img, boxes, rescale=1.0)
    for ul, br in windows:
        assert tuple(br - ul) == (192, 256)
    ul = windows[0][0]
    pixels = img[ul[1]:ul[1] + 256, ul[0]:ul[0] + 192].astype(np.float32)
    expect = ((pixels / np.float32(255) - MEAN) / STD).transpose(2, 0, 1)
    np.testing.assert_array_equal(out["crops"][0], expect)


def test_exact_2x_window_uses_area_mean(opencv_without_ipp):
    """A 384x512 window: OpenCV switches to INTER_AREA, the mean of each 2x2 block."""
    rng = np.random.default_rng(9)
    img = random_image(rng, 600, 800)
    boxes = np.array([[340.25, 30, 400.25, 542], [-100.25, 200, 0.25, 712]], dtype=np.float32)
    out, ref, windows = assert_matches(img, boxes, rescale=1.0)
    for ul, br in windows:
        assert tuple(br - ul) == (384, 512)
    ul = windows[0][0]
    block = img[ul[1]:ul[1] + 512, ul[0]:ul[0] + 384].astype(np.float64)
    mean = block.reshape(256, 2, 192, 2, 3).mean(axis=(1, 3)).astype(np.float32)
    expect = ((mean / np.float32(255) - MEAN) / STD).transpose(2, 0, 1)
    np.testing.assert_array_equal(out["crops"][0], expect)
    # IPP interpolates at a = 0.5 there, which gives the same exact means
    np.testing.assert_array_equal(cliff.crop(img, boxes, 1.0, resize="ipp")["crops"], out["crops"])


def test_boxes_are_what_bbox_info_uses():
    """'boxes' = [cx, cy, b] with the official demo's float32 casts: b = float32(scale) * 200."""
    img = np.zeros((100, 100, 3), np.uint8)
    out = cliff.crop(img, np.array([[10, 20, 50, 90], [0.5, 0.25, 99.5, 30]], np.float32))
    s32 = out["scale"].astype(np.float32)
    expect = np.stack([out["center"][:, 0].astype(np.float32),
                       out["center"][:, 1].astype(np.float32), s32 * np.float32(200)], 1)
    np.testing.assert_array_equal(out["boxes"], expect)
    assert out["boxes"].dtype == np.float32
    np.testing.assert_allclose(out["boxes"][0], [30, 55, 1.1 * 70], rtol=1e-6)


def test_float32_boxes_take_official_precision_float64_boxes_do_not():
    """float32 boxes (a detector's output, as in the official demo) get x1 + x2 and the box
    sides in float32; float64 boxes are used as given."""
    box = [0.1, 0.2, 100.3, 50.7]
    img = np.zeros((64, 64, 3), np.uint8)
    c32 = cliff.crop(img, np.array(box, np.float32))["center"][0]
    c64 = cliff.crop(img, np.array(box, np.float64))["center"][0]
    np.testing.assert_array_equal(c32, official_center_scale(box)[0])
    np.testing.assert_array_equal(c64, [(0.1 + 100.3) / 2, (0.2 + 50.7) / 2])
    assert c32[0] != c64[0]


# ---- options and inputs ----------------------------------------------------------------


def test_bgr_equals_flipping():
    rng = np.random.default_rng(10)
    img = random_image(rng, 120, 90)
    boxes = grid_boxes(rng, 120, 90, 10)
    a = cliff.crop(img, boxes)["crops"]
    b = cliff.crop(np.ascontiguousarray(img[:, :, ::-1]), boxes, bgr=True)["crops"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cliff.crop(img, boxes, bgr=True)["crops"])


def test_nhwc_is_transposed_nchw():
    rng = np.random.default_rng(11)
    img = random_image(rng, 150, 170)
    boxes = grid_boxes(rng, 150, 170, 12)
    a = cliff.crop(img, boxes)["crops"]
    b = cliff.crop(img, boxes, layout="nhwc")["crops"]
    assert b.shape == (12, 256, 192, 3)
    np.testing.assert_array_equal(a.transpose(0, 2, 3, 1), b)


def test_single_box_and_views():
    """A (4,) box gives N = 1; non-contiguous read-only images, big-endian and list boxes
    are accepted."""
    rng = np.random.default_rng(12)
    big = random_image(rng, 200, 300)
    view = big[::2, 1::2]
    view.flags.writeable = False
    box = [10, 5, 60, 90]
    a = cliff.crop(view, np.array(box, dtype=">f8"))  # big-endian boxes too
    b = cliff.crop(np.ascontiguousarray(view), np.array([box], np.float64))
    assert a["crops"].shape == (1, 3, 256, 192)
    for k in ("crops", "boxes", "center", "scale"):
        np.testing.assert_array_equal(a[k], b[k])


def test_no_boxes():
    out = cliff.crop(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)))
    assert out["crops"].shape == (0, 3, 256, 192)
    assert out["boxes"].shape == (0, 3) and out["center"].shape == (0, 2)
    assert out["scale"].shape == (0,)


def test_threads_give_identical_results():
    rng = np.random.default_rng(13)
    img = random_image(rng, 300, 300)
    boxes = grid_boxes(rng, 300, 300, 16)
    old = cliff.get_num_threads()
    try:
        cliff.set_num_threads(1)
        a = cliff.crop(img, boxes)["crops"]
        cliff.set_num_threads(2)
        b = cliff.crop(img, boxes)["crops"]
    finally:
        cliff.set_num_threads(old)
    np.testing.assert_array_equal(a, b)
    results = [None] * 3

    def work(k):
        results[k] = cliff.crop(img, boxes)["crops"]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, a)


@pytest.mark.parametrize("image,exc,word", [
    (np.zeros((10, 10, 3), np.float32), TypeError, "uint8"),
    (np.zeros((10, 10), np.uint8), ValueError, "(H, W, 3)"),
    (np.zeros((10, 10, 4), np.uint8), ValueError, "(H, W, 3)"),
    (np.zeros((0, 10, 3), np.uint8), ValueError, "empty"),
    (None, TypeError, "uint8"),
    ("picture.jpg", TypeError, "uint8"),
])
def test_bad_image(image, exc, word):
    with pytest.raises(exc, match="image") as e:
        cliff.crop(image, [0, 0, 5, 5])
    assert word in str(e.value)


@pytest.mark.parametrize("xyxy,exc,word", [
    (np.zeros((2, 3)), ValueError, "(N, 4)"),
    (np.zeros((2, 4, 1)), ValueError, "(N, 4)"),
    ([[10, 10, 5, 20]], ValueError, "x1 <= x2"),
    ([[10, 30, 20, 20]], ValueError, "y1 <= y2"),
    ([[0, 0, np.nan, 5]], ValueError, "NaN"),
    ([[0, 0, np.inf, 5]], ValueError, "NaN or infinite"),
    ([[5, 5, 5, 5]], ValueError, "degenerate"),
    ([[5, 5, 5.2, 5.2]], ValueError, "too small"),
    ([[0, 0, 1e9, 1e9]], ValueError, "too large"),
    ([["a", "b", "c", "d"]], TypeError, "real numbers"),
    (np.zeros((1, 4), complex), TypeError, "real numbers"),
])
def test_bad_boxes(xyxy, exc, word):
    with pytest.raises(exc, match="xyxy") as e:
        cliff.crop(np.zeros((20, 20, 3), np.uint8), xyxy)
    assert word in str(e.value)


def test_bad_options():
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="layout"):
        cliff.crop(img, [0, 0, 5, 5], layout="chw")
    with pytest.raises(ValueError, match="resize"):
        cliff.crop(img, [0, 0, 5, 5], resize="cubic")
    with pytest.raises(TypeError, match="rescale"):
        cliff.crop(img, [0, 0, 5, 5], rescale="1.1")
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rescale"):
            cliff.crop(img, [0, 0, 5, 5], rescale=bad)


def test_torch_tensor_image():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    img = random_image(rng, 64, 48)
    a = cliff.crop(torch.from_numpy(img), torch.tensor([[1.0, 2.0, 40.0, 60.0]]))["crops"]
    b = cliff.crop(img, [[1.0, 2.0, 40.0, 60.0]])["crops"]
    np.testing.assert_array_equal(a, b)


# ---- against OpenCV as shipped (with IPP) -----------------------------------------------


@pytest.fixture
def opencv_with_ipp():
    old = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(True)
    if not cv2.ipp.useIPP():
        pytest.skip("this OpenCV build has no IPP")
    yield
    cv2.ipp.setUseIPP(old)


@pytest.mark.parametrize("h,w", [(480, 640), (37, 53), (1080, 1920)])
def test_ipp_mode_matches_opencv_with_ipp(opencv_with_ipp, h, w):
    """resize="ipp" reproduces cv2.resize of IPP builds (the PyPI wheels on x86) bit for bit,
    windows of a few pixels to several thousand included."""
    rng = np.random.default_rng(h + w)
    img = random_image(rng, h, w)
    same_size = [[w / 4 + 0.25, h / 4, w / 4 + 100.25, h / 4 + 256]]
    boxes = np.concatenate([grid_boxes(rng, h, w, 40), same_size]).astype(np.float32)
    out = cliff.crop(img, boxes, resize="ipp")
    ref, _, _, _ = reference(img, boxes)
    np.testing.assert_array_equal(out["crops"], ref)
    assert np.array_equal(cliff.crop(img, boxes[-1:], rescale=1.0, resize="ipp")["crops"],
                          cliff.crop(img, boxes[-1:], rescale=1.0)["crops"]), "192x256: a copy"


def test_ipp_mode_tiny_wide_tall_and_outside_boxes(opencv_with_ipp):
    rng = np.random.default_rng(16)
    img = random_image(rng, 300, 400)
    boxes = np.array([[100, 100, 102, 103], [0, 0, 1, 1], [399, 299, 400, 300],
                      [-50, 140, 450, 160], [190, -80, 200, 380], [-300, -300, -200, -100]],
                     dtype=np.float32)
    ref, _, _, windows = reference(img, boxes)
    assert min((br - ul).min() for ul, br in windows) == 1, "a one-pixel-wide window"
    np.testing.assert_array_equal(cliff.crop(img, boxes, resize="ipp")["crops"], ref)


def test_resize_modes_differ_by_at_most_2e4(opencv_with_ipp):
    """The two OpenCV variants differ where the float32 and float64 source coordinates do:
    up to ~1e-4 per normalised value for windows near 1000 pixels on random noise (the worst
    case; photos are smoother)."""
    rng = np.random.default_rng(15)
    img = random_image(rng, 480, 640)
    boxes = grid_boxes(rng, 400, 500, 30)
    a = cliff.crop(img, boxes, resize="opencv")["crops"]
    b = cliff.crop(img, boxes, resize="ipp")["crops"]
    d = np.abs(a - b).max()
    assert 0 < d <= 2e-4, d


def test_default_resize_is_what_the_official_demo_computed_on_x86(opencv_with_ipp):
    """The official demo ran cv2.resize from a PyPI OpenCV wheel on x86, i.e. with IPP: the
    default mode must give those numbers, not those of OpenCV's own scalar code
    (docs/official.md#crop; the two differ by up to ~2e-4 on large boxes)."""
    rng = np.random.default_rng(16)
    img = random_image(rng, 480, 640)
    boxes = grid_boxes(rng, 400, 500, 10)
    np.testing.assert_array_equal(cliff.crop(img, boxes)["crops"],
                                  cliff.crop(img, boxes, resize="ipp")["crops"])
