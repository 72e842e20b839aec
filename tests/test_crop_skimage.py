"""BEDLAM's crop with scikit-image's resize (cliff.crop(..., family="bedlam-cliff"), the
default resize of the BEDLAM families; C: CLIFF_RESIZE_SKIMAGE) against the release's own steps
run with scikit-image from PyPI (docs/official.md#bedlam-crop, docs/crop.md#bedlam-resize):

the tracker's square box, the SPIN window truncated toward zero, a float64 zero canvas with the
image pasted in, ``skimage.transform.resize(canvas, (224, 224))`` with its defaults (Gaussian
anti-aliasing when shrinking, bilinear, 'reflect' borders, clip), then (v/255 - mean)/std.
The core computes in float64 and rounds once to float32; the reference stays in float64: the
bar is 1e-4 per normalised value (measured: under 1e-6).
"""
from __future__ import annotations

import numpy as np
import pytest

import cliff

from test_crop import official_window
from test_crop_bedlam import MEAN, RES, STD, bedlam_canvas, bedlam_window, tracker_box

skimage_transform = pytest.importorskip("skimage.transform")

TOL = 1e-4


def release_crop(img: np.ndarray, xyxy) -> np.ndarray:
    """image_utils.crop + the tester's normalisation, float64, (3, 224, 224)."""
    canvas = bedlam_canvas(img, xyxy, np.float64)[0]
    out = skimage_transform.resize(canvas, (RES, RES))
    out = (out / 255.0 - MEAN.astype(np.float64)) / STD.astype(np.float64)
    return np.transpose(out, (2, 0, 1))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(13).integers(0, 256, (700, 900, 3), dtype=np.uint8)


def check(image, boxes, **kw):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = cliff.crop(image, boxes, family="bedlam-cliff", **kw)["crops"]
    for i, box in enumerate(boxes):
        np.testing.assert_allclose(out[i], release_crop(image, box), rtol=0, atol=TOL, err_msg=str(box))


def test_shrinking_boxes(image):
    """Windows of 500 and 899 pixels: the Gaussian filter (sigma 0.6 and 1.5) then bilinear."""
    check(image, [[100, 100, 600, 650], [0, 0, 899, 699], [300.5, 40.25, 720.75, 690.5]])


def test_enlarging_boxes(image):
    """Windows under 224 pixels: no filter; bilinear with mirrored borders at the edges."""
    check(image, [[10, 10, 60, 90], [400, 300, 520, 350]])


def test_window_of_exactly_224_pixels_is_a_copy(image):
    """Factor 1 on both axes: sigma 0, sample positions on the pixels."""
    check(image, [[50, 60, 274, 284]])


def test_one_axis_shrinks_the_other_enlarges(image):
    """The truncation can make the window one pixel taller than wide: each axis has its own
    factor, the filter only runs along the shrunk one. Windows 223 x 225 (a negative left
    corner truncated up) and 225 x 224."""
    boxes = [[-16.72, 198.87, 207.77446897449337, 423.3644689744934], [10.5, 20.5, 235.0, 244.5]]
    sizes = [np.subtract(*bedlam_window(*tracker_box(b))[::-1]) for b in boxes]
    assert [list(s) for s in sizes] == [[223, 225], [225, 224]]
    check(image, boxes)


def test_boxes_partly_outside_the_image(image):
    check(image, [[-200, -50, 500, 300], [850, 650, 1300, 1200], [-40, 600, 60, 760]])


def test_tiny_boxes(image):
    """3 x 2 and 1 x 1 pixel boxes: windows of a few pixels enlarged 50-200 times."""
    check(image, [[100, 100, 103, 102], [5, 5, 6, 6]])


def test_bgr_and_nhwc(image):
    box = np.array([[120.0, 80.0, 560.0, 610.0]])
    ref = cliff.crop(image, box, family="bedlam-cliff")["crops"][0]
    bgr = cliff.crop(image[..., ::-1], box, family="bedlam-cliff", bgr=True)["crops"][0]
    nhwc = cliff.crop(image, box, family="bedlam-cliff", layout="nhwc")["crops"][0]
    np.testing.assert_array_equal(bgr, ref)
    np.testing.assert_array_equal(nhwc, np.transpose(ref, (1, 2, 0)))


def test_skimage_is_the_bedlam_default_and_opencv_stays_available(image):
    box = np.array([[100.0, 100.0, 600.0, 650.0]])
    default = cliff.crop(image, box, family="bedlam-cliff")["crops"]
    explicit = cliff.crop(image, box, family="bedlam-cliff", resize="skimage")["crops"]
    opencv = cliff.crop(image, box, family="bedlam-cliff", resize="opencv")["crops"]
    np.testing.assert_array_equal(default, explicit)
    # a 500-pixel window shrunk 2.2x: the anti-aliasing filter changes the values
    assert np.abs(opencv - default).max() > 0.05


def test_official_crop_default_is_still_ipp(image):
    box = np.array([[100.0, 100.0, 600.0, 650.0]])
    a = cliff.crop(image, box)["crops"]
    b = cliff.crop(image, box, resize="ipp")["crops"]
    np.testing.assert_array_equal(a, b)


def test_skimage_resize_on_the_official_window(image):
    """The mode is a resize, not tied to the square window: CLIFF's 4:3 window resized with it
    equals skimage.transform.resize of the same canvas."""
    box = np.array([[100.0, 100.0, 400.0, 650.0]])
    out = cliff.crop(image, box, resize="skimage")
    (ulx, uly), (brx, bry) = official_window(out["center"][0], out["scale"][0])
    canvas = np.zeros((bry - uly, brx - ulx, 3))
    H, W = image.shape[:2]
    y0, y1, x0, x1 = max(uly, 0), min(bry, H), max(ulx, 0), min(brx, W)
    canvas[y0 - uly:y1 - uly, x0 - ulx:x1 - ulx] = image[y0:y1, x0:x1]
    ref = skimage_transform.resize(canvas, (256, 192))
    ref = np.transpose((ref / 255.0 - MEAN.astype(np.float64)) / STD.astype(np.float64), (2, 0, 1))
    np.testing.assert_allclose(out["crops"][0], ref, rtol=0, atol=TOL)




def test_random_boxes(image):
    """20 boxes of 1..1500 pixels anywhere around the image."""
    rng = np.random.default_rng(7)
    x1, y1 = rng.uniform(-300, 800, 20), rng.uniform(-300, 600, 20)
    wh = np.exp(rng.uniform(0, np.log(1500), (20, 2)))
    check(image, np.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], 1))
