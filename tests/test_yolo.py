"""YOLOv3 person detector (cliff.detect.yolo): parity with a PyTorch reference of the darknet
graph on random darknet-format weights, the letterbox against OpenCV, the post-processing
against a NumPy implementation of the demo's algorithm, and weights-file errors.

The weights file is the real graph's size (62 M parameters, 248,007,048 bytes), written once
per session; full-size forward passes are few and marked slow."""
from __future__ import annotations

import os

import numpy as np
import pytest

from cliff import _standin
from cliff.detect import yolo
from tests.reference import torch_yolo as ref

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    return _standin.yolo_weights(tmp_path_factory.mktemp("yolo") / "yolov3.weights", seed=3)


@pytest.fixture(scope="session")
def detector(weights):
    with yolo.load_detector(weights) as d:
        yield d


# ---- the weights file -------------------------------------------------------------------------

def test_weights_file_has_the_official_size():
    """yolov3.cfg has 62,001,757 float32 parameters; with the 20-byte header the official
    yolov3.weights is 248,007,048 bytes."""
    assert yolo.weights_size() == 248_007_048
    assert len(yolo.yolov3_convs()) == 75


def test_truncated_weights_name_the_file_and_both_sizes(weights, tmp_path):
    bad = tmp_path / "short.weights"
    with open(weights, "rb") as f:
        bad.write_bytes(f.read(1_000_000))
    with pytest.raises(OSError) as e:
        yolo.load_detector(bad)
    msg = str(e.value)
    assert str(bad) in msg and "expected 248007048 bytes" in msg and "found 1000000 bytes" in msg
    assert "truncated" in msg


def test_longer_weights_are_refused(weights, tmp_path):
    bad = tmp_path / "long.weights"
    with open(weights, "rb") as f, open(bad, "wb") as g:
        g.write(f.read())
        g.write(b"\0" * 8)
    with pytest.raises(OSError, match="found 248007056 bytes"):
        yolo.load_detector(bad)


def test_old_header_has_a_32_bit_seen_count(tmp_path):
    """Before darknet 0.2 the images-seen count is int32: the header is 16 bytes, so the same
    weights need a 248,007,044-byte file; the message gives that size."""
    bad = tmp_path / "old.weights"
    with open(bad, "wb") as f:
        np.array([0, 1, 0, 0], np.int32).tofile(f)
    with pytest.raises(OSError, match="expected 248007044 bytes"):
        yolo.load_detector(bad)


def test_missing_weights_say_where_they_were_looked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ckpt/yolov3.weights"):
        yolo.load_detector()
    with pytest.raises(FileNotFoundError, match="nope.weights"):
        yolo.load_detector(tmp_path / "nope.weights")


def test_bad_arguments_are_named(detector):
    with pytest.raises(TypeError, match=r"images\[0\]"):
        detector.detect([np.zeros((4, 4, 3), np.float32)])
    with pytest.raises(ValueError, match=r"images\[1\]"):
        detector.detect([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)])
    with pytest.raises(ValueError, match="threshold"):
        detector.detect([np.zeros((4, 4, 3), np.uint8)], threshold=1.5)
    with pytest.raises(ValueError, match="max_people"):
        detector.detect([np.zeros((4, 4, 3), np.uint8)], max_people=0)


# ---- letterbox ---------------------------------------------------------------------------------

SIZES = [(480, 640), (640, 480), (100, 37), (1000, 1333), (416, 416), (417, 300), (7, 9), (2000, 50)]


@pytest.mark.parametrize("hw", SIZES)
def test_letterbox_is_bit_equal_to_opencv_cubic(hw, opencv_without_ipp):
    """OpenCV's own 8-bit INTER_CUBIC (fixed-point coefficients, float32 vertical pass with an
    integer tail), scale, int() sizes, centring and grey 128 as the port's letterbox_image."""
    img = np.random.default_rng(hw[0] * 7 + hw[1]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    np.testing.assert_array_equal(yolo.letterbox(img), ref.letterbox_cv2(img))


def test_letterbox_of_a_photo_is_bit_equal_to_opencv(opencv_without_ipp):
    img = cv2.imread(os.path.join(os.path.dirname(yolo.__file__), "..", "data", "grace_hopper.jpg"))
    np.testing.assert_array_equal(yolo.letterbox(img), ref.letterbox_cv2(img))


def test_letterbox_vs_opencv_with_ipp_differs_by_at_most_one_level():
    """x86 PyPI OpenCV builds route 8-bit cubic resizes through Intel IPP, which computes with
    unquantized coefficients: it differs from OpenCV's own fixed-point code by one grey level
    in about 3 % of the values (measured on this image: 3.1 %)."""
    old = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(True)
    try:
        img = np.random.default_rng(5).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        d = np.abs(yolo.letterbox(img).astype(int) - ref.letterbox_cv2(img))
    finally:
        cv2.ipp.setUseIPP(old)
    assert d.max() <= 1 and (d > 0).mean() < 0.05


def test_network_input_is_rgb_over_255():
    img = np.random.default_rng(0).integers(0, 256, (50, 80, 3), dtype=np.uint8)
    x = yolo.network_input([img])
    np.testing.assert_array_equal(x[0], (yolo.letterbox(img) / 255.0).astype(np.float32))


# ---- post-processing on crafted head outputs --------------------------------------------------

def _heads(n=1):
    """All-background heads: objectness logit -10 (sigmoid 4.5e-5) everywhere."""
    hs = [np.zeros((n, g, g, 255), np.float32) for g in (13, 26, 52)]
    for h in hs:
        h[..., 4::85] = -10.0
    return hs


def _put(hs, k, gy, gx, a, tx=0.0, ty=0.0, tw=0.0, th=0.0, obj=3.0, cls=0, cls_logit=4.0, img=0):
    p = hs[k][img, gy, gx, a * 85:(a + 1) * 85]
    p[:5] = [tx, ty, tw, th, obj]
    p[5:] = -4.0
    p[5 + cls] = cls_logit


def _both(hs, sizes, **kw):
    got = yolo.postprocess(hs, sizes, **kw)
    want = ref.detection_all(hs, [tuple(s) for s in sizes], persons_only=not kw.get("all_classes", False))
    return got, want


def test_overlapping_people_keep_the_most_confident():
    """Three person boxes at neighbouring 52-grid cells (IoU well above 0.4) and one far away:
    NMS keeps the most confident of the three and the far one, by decreasing objectness."""
    hs = _heads()
    _put(hs, 2, 20, 20, 2, tw=1.0, th=1.5, obj=2.0)
    _put(hs, 2, 20, 21, 2, tw=1.0, th=1.5, obj=3.0)
    _put(hs, 2, 21, 20, 2, tw=1.0, th=1.5, obj=1.0)
    _put(hs, 1, 3, 3, 0, obj=0.5)
    got, want = _both(hs, [(416, 416)])
    assert len(got) == 2
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    assert got[0, 5] > got[1, 5]


def test_classes_are_suppressed_separately_and_only_people_kept():
    """A dog box on top of a person box does not suppress it; with all_classes the dog comes
    after the people (classes ascending)."""
    hs = _heads()
    _put(hs, 0, 6, 6, 1, obj=3.0, cls=0)
    _put(hs, 0, 6, 6, 2, obj=4.0, cls=16)
    _put(hs, 0, 6, 7, 2, obj=2.0, cls=16)  # overlaps the first dog: suppressed within class 16
    got, want = _both(hs, [(480, 640)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    assert got[:, 7].tolist() == [0]
    got, want = _both(hs, [(480, 640)], all_classes=True)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    assert got[:, 7].tolist() == [0, 16]


def test_nothing_above_threshold_gives_no_rows():
    """Objectness sigmoid(0) = 0.5 is not > 0.5: nothing is kept (the port's strict test)."""
    hs = _heads(2)
    _put(hs, 1, 5, 5, 0, obj=0.0)
    got = yolo.postprocess(hs, [(100, 100), (200, 300)])
    assert got.shape == (0, 8) and got.dtype == np.float32


def test_boxes_crossing_the_border_are_clamped_to_the_image():
    """A wide box near the left edge of a 640x480 image letterboxed to 416x312 (offset 52 in y)
    maps back to x1 < 0 and y1 < 0 before clamping; rows equal the reference mapping."""
    hs = _heads()
    _put(hs, 0, 0, 0, 2, tw=0.5, th=0.5, obj=2.0)
    _put(hs, 0, 12, 12, 2, tw=0.3, th=0.3, obj=2.5)
    got, want = _both(hs, [(480, 640)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    assert (got[:, 1] >= 0).all() and (got[:, 3] <= 640).all() and (got[:, 4] <= 480).all()
    assert (got[:, 1:3] == 0).any() and (got[:, 3] == 640).any()


def test_images_in_a_batch_keep_their_index_and_max_people_limits_each():
    hs = _heads(3)
    for img in (0, 2):
        _put(hs, 1, 5, 5, 0, obj=3.0, img=img)
        _put(hs, 1, 15, 15, 0, obj=2.0, img=img)
    got, want = _both(hs, [(300, 400)] * 3)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    assert got[:, 0].tolist() == [0, 0, 2, 2]
    one = yolo.postprocess(hs, [(300, 400)] * 3, max_people=1)
    np.testing.assert_array_equal(one, got[[0, 2]])


def test_random_heads_match_the_reference(weights):
    """Dense random logits (many candidates, several classes): same rows, same order."""
    rng = np.random.default_rng(0)
    hs = [rng.normal(0, 2, (2, g, g, 255)).astype(np.float32) for g in (13, 26, 52)]
    for h in hs:
        h[..., 4::85] -= 4.0
        h[..., 2::85] *= 0.2  # anchor-sized boxes: NMS leaves many
        h[..., 3::85] *= 0.2
        h[..., 5::85] += 3.0  # person often the best class
    sizes = [(480, 640), (1000, 700)]
    for all_classes in (False, True):
        got, want = _both(hs, sizes, all_classes=all_classes)
        assert len(got) > (100 if all_classes else 5)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


# ---- the network ----------------------------------------------------------------------------

@pytest.mark.slow
def test_heads_match_pytorch_reference(weights, detector):
    """Raw head outputs of the engine vs the PyTorch darknet graph (same weights, batch 2),
    within 1e-4 of the output scale."""
    torch = pytest.importorskip("torch")
    net = ref.Darknet(ref.yolov3_cfg())
    net.load_darknet(str(weights))
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)]
    x = yolo.network_input(imgs)
    got = detector.heads(x)
    with torch.no_grad():
        want = [h.permute(0, 2, 3, 1).numpy() for h in net(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        spread = w.std(axis=(1, 2)).mean()  # per-channel variation: the body is not dead
        assert spread > 0.1
        assert np.abs(g - w).max() <= 1e-4 * np.abs(w).max(), (np.abs(g - w).max(), np.abs(w).max())


@pytest.mark.slow
def test_detect_equals_heads_plus_postprocess(detector):
    """detect() = letterbox + network + post-processing, batched across images."""
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(2)]
    heads = detector.heads(yolo.network_input(imgs))
    want = yolo.postprocess(heads, [(240, 320)] * 2, threshold=0.3, all_classes=True)
    got = detector.detect(imgs, threshold=0.3, all_classes=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


# ---- the product ------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_predict_uses_yolov3_and_writes_its_rows(weights, tmp_path, standin_res50):
    """`cliff predict` without --boxes runs YOLOv3 (threshold 0 keeps every candidate, so the
    random network finds 'people'); --max-people caps them; detection_all carries the
    detector's objectness and class score."""
    from cliff.cli import main
    ckpt, smpl, _ = standin_res50
    photo = os.path.join(os.path.dirname(yolo.__file__), "..", "data", "astronaut.jpg")
    out = tmp_path / "r.npz"
    assert main(["predict", photo, photo, "--ckpt", ckpt, "--smpl", smpl, "--detector", "yolov3",
                 "--detector-weights", str(weights), "--det-threshold", "0", "--max-people", "2",
                 "-o", str(out), "--quiet"]) == 0
    det = np.load(out)["detection_all"]
    assert det.shape == (4, 8) and det[:, 0].tolist() == [0, 0, 1, 1]
    assert (det[:, 7] == 0).all() and (det[:, 5] > 0).all() and (det[:, 5] < 1).all()
    np.testing.assert_array_equal(det[:2, 1:], det[2:, 1:])  # same photo, same rows


def test_choose_reports_options_and_checks_sizes_before_loading(tmp_path, monkeypatch):
    from cliff import detect
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    monkeypatch.setattr(detect, "available", lambda: False)
    with pytest.raises(RuntimeError, match="--detector-weights.*yolov3.weights.*MediaPipe"):
        detect.choose("auto")
    assert detect.choose("none") is None
    bad = tmp_path / "yolov3.weights"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(OSError, match="expected 248007048 bytes, found 100 bytes"):
        detect.choose("yolov3", bad)
    with pytest.raises(FileNotFoundError, match="CLIFF_HOME/ckpt/yolov3.weights"):
        detect.choose("yolov3")
