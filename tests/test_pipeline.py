"""cliff.Estimator: the official pipeline end to end.

The strongest check rebuilds the official demo's chain from independent parts written in the
tests — the OpenCV-based crop of test_crop.py, our PyTorch reference network (tests/reference)
and the `smplx` package on the npz twin of the SMPL file — and compares every output.
"""
import json
import os

import numpy as np
import pytest

import cliff
from cliff.io import save_smpl_npz, save_smpl_pkl
from cliff._standin import smpl_arrays

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")


@pytest.fixture(scope="session")
def smpl_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("smpl")
    arrays = smpl_arrays(seed=3)
    pkl, npz = str(d / "SMPL_NEUTRAL.pkl"), str(d / "SMPL_NEUTRAL.npz")
    save_smpl_pkl(pkl, arrays)
    save_smpl_npz(npz, arrays)
    return pkl, npz


@pytest.fixture(scope="session")
def estimator(ref_res50, smpl_files):
    est = cliff.Estimator(ref_res50.path, smpl_files[0], batch_size=3)
    yield est
    est.close()


@pytest.fixture(scope="session")
def photo():
    image = cliff.read_image(os.path.join(DATA, "cameraman.jpg"))
    boxes = cliff.load_boxes(os.path.join(DATA, "boxes.json"))["cameraman.jpg"][:, :4]
    # a second, off-centre person box (partly outside the image) to exercise batching
    return image, np.concatenate([boxes, [[300.0, 200.0, 560.0, 520.0]]]).astype(np.float32)


def smplx_body(npz, rotmat, betas, transl):
    """smplx 0.1.28 opens model_path with pickle only: hand it the npz through data_struct."""
    from smplx.utils import Struct

    data = dict(np.load(npz))
    layer = smplx.SMPL(model_path=npz, data_struct=Struct(**data), num_betas=betas.shape[1])
    with torch.no_grad():
        out = layer(betas=torch.from_numpy(betas), global_orient=torch.from_numpy(rotmat[:, :1]),
                    body_pose=torch.from_numpy(rotmat[:, 1:]), transl=torch.from_numpy(transl),
                    pose2rot=False)
    return out.vertices.numpy(), out.joints.numpy()


# ---- against the official chain ------------------------------------------------------------

def test_estimator_matches_independent_official_chain(estimator, ref_res50, smpl_files, photo):
    """OpenCV crop -> PyTorch reference CLIFF -> cam_crop2full -> smplx: same bodies.

    Tolerances: the network within the engine's 1e-4 contract (rotmat, betas, cam_crop);
    t_full relative 1e-4; vertices/joints 1e-4 m (rotation/translation errors propagate)."""
    import cv2
    from test_crop import reference as opencv_crop

    image, boxes = photo
    out = estimator.run(image, xyxy=boxes)

    old = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(True)  # the PyPI OpenCV the official demo used on x86
    try:
        ref_crops, center, scale, _ = opencv_crop(image, boxes.astype(np.float32))
    finally:
        cv2.ipp.setUseIPP(old)
    # the demo casts center and scale to float32 on the device, then b = scale * 200
    b = scale.astype(np.float32) * np.float32(200)
    h, w = image.shape[:2]
    ref = ref_res50.outputs(ref_crops.astype(np.float32),
                            np.column_stack([center.astype(np.float32), b]),
                            np.array([w, h], np.float32))
    for k in ("rotmat", "betas", "cam_crop"):
        np.testing.assert_allclose(out[k], ref[k], atol=1e-4, rtol=0, err_msg=k)
    np.testing.assert_allclose(out["t_full"], ref["t_full"], rtol=1e-4, atol=1e-6)
    v, j = smplx_body(smpl_files[1], ref["rotmat"], ref["betas"], ref["t_full"])
    np.testing.assert_allclose(out["vertices"], v, atol=1e-4, rtol=0)
    np.testing.assert_allclose(out["joints"], j, atol=1e-4, rtol=0)


def test_joints2d_are_the_joints_seen_by_the_full_frame_camera(estimator, photo):
    """joints2d = f * (X, Y) / Z + (W/2, H/2) with f the image diagonal (official default)."""
    image, boxes = photo
    out = estimator.run(image, xyxy=boxes)
    h, w = image.shape[:2]
    f = np.hypot(w, h)
    j = out["joints"].astype(np.float64)
    expect = f * j[..., :2] / j[..., 2:] + [w / 2, h / 2]
    np.testing.assert_allclose(out["joints2d"], expect, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["focal"], f, rtol=1e-6)


# ---- outputs, batching, camera -------------------------------------------------------------

def test_every_output_has_one_row_per_person(estimator, photo):
    image, boxes = photo
    out = estimator.run(image, xyxy=boxes)
    n = len(boxes)
    shapes = {"rotmat": (n, 24, 3, 3), "pose": (n, 72), "betas": (n, 10), "cam_crop": (n, 3),
              "t_full": (n, 3), "bbox_info": (n, 3), "focal": (n,), "vertices": (n, 6890, 3),
              "joints": (n, 45, 3), "joints2d": (n, 45, 2), "xyxy": (n, 4), "center": (n, 2),
              "scale": (n,)}
    for k, s in shapes.items():
        assert out[k].shape == s, k
        assert np.isfinite(out[k]).all(), k


def test_run_many_streams_images_without_people(estimator):
    """Images without boxes are yielded as they come, not held until batch_size people were
    seen (a video without detections must not pile up in memory)."""
    pulled = []

    def frames():
        for i in range(50):
            pulled.append(i)
            yield np.zeros((64, 48, 3), np.uint8), np.zeros((0, 4))

    it = estimator.run_many(frames())
    first = next(it)
    assert first["pose"].shape == (0, 72)
    assert len(pulled) <= estimator.batch_size
    assert sum(1 for _ in it) == 49


def test_run_many_batches_across_images_without_changing_results(estimator, photo):
    """Three images with 2, 0 and 1 people, batch_size 3: results equal per-image runs."""
    image, boxes = photo
    items = [(image, boxes), (image, np.zeros((0, 4))), (image[:, ::-1], boxes[:1])]
    many = list(estimator.run_many(items))
    assert [len(r["betas"]) for r in many] == [2, 0, 1]
    for (img, bx), got in zip(items, many):
        single = estimator.run(img, xyxy=bx)
        for k in ("rotmat", "betas", "t_full", "vertices", "joints2d"):
            np.testing.assert_allclose(got[k], single[k], atol=2e-5, rtol=0, err_msg=k)


def test_known_intrinsics_move_the_principal_point(estimator, photo):
    """With K, CLIFF's image centre becomes K's principal point and f = (fx + fy) / 2:
    t_full must equal cam_crop_to_full with that K, and joints2d the projection with fx, fy."""
    image, boxes = photo
    K = np.array([[900.0, 0, 200.0], [0, 1000.0, 300.0], [0, 0, 1]])
    out = estimator.run(image, xyxy=boxes, K=K)
    np.testing.assert_allclose(out["focal"], 950.0, rtol=1e-6)
    expect_t = cliff.cam_crop_to_full(out["cam_crop"], out["center"].astype(np.float32),
                                      (out["scale"] * 200).astype(np.float32), K=K)
    np.testing.assert_allclose(out["t_full"], expect_t, rtol=1e-4, atol=1e-5)
    j = out["joints"].astype(np.float64)
    uv = np.stack([900 * j[..., 0] / j[..., 2] + 200, 1000 * j[..., 1] / j[..., 2] + 300], -1)
    np.testing.assert_allclose(out["joints2d"], uv, rtol=1e-5, atol=1e-3)


def test_bgr_flag_equals_flipped_rgb(estimator, photo):
    image, boxes = photo
    a = estimator.run(image, xyxy=boxes)
    b = estimator.run(np.ascontiguousarray(image[..., ::-1]), xyxy=boxes, bgr=True)
    np.testing.assert_array_equal(a["betas"], b["betas"])


def test_no_people_gives_empty_arrays_of_the_right_shapes(estimator, photo):
    out = estimator.run(photo[0], xyxy=np.zeros((0, 4)))
    assert out["vertices"].shape == (0, 6890, 3) and out["pose"].shape == (0, 72)


# ---- bad input: a TypeError/ValueError naming the argument -------------------------------

@pytest.mark.parametrize("image, match", [
    (np.zeros((10, 10), np.uint8), "image: expected an \\(H, W, 3\\)"),
    (np.zeros((10, 10, 3), np.float32), "image: expected uint8"),
])
def test_bad_images_are_refused(estimator, image, match):
    with pytest.raises((ValueError, TypeError), match=match):
        estimator.run(image, xyxy=[[0, 0, 5, 5]])


def test_bad_boxes_and_camera_are_refused(estimator, photo):
    image, _ = photo
    with pytest.raises(ValueError, match="xyxy"):
        estimator.run(image, xyxy=[[0, 0, 5]])
    with pytest.raises(ValueError, match="focal"):
        estimator.run(image, xyxy=[[0, 0, 50, 50]], focal=-3)
    with pytest.raises(ValueError, match="K"):
        estimator.run(image, xyxy=[[0, 0, 50, 50]], K=np.eye(2))
    with pytest.raises(ValueError, match="batch_size"):
        cliff.Estimator(estimator.model, estimator.smpl, batch_size=0)


@pytest.mark.parametrize("kw, name", [
    ({"xyxy": "abc"}, "xyxy"),
    ({"xyxy": [[object(), 1, 2, 3]]}, "xyxy"),
    ({"focal": "wide"}, "focal"),
    ({"focal": [800.0, 900.0]}, "focal"),
    ({"K": "abc"}, "K"),
])
def test_non_numeric_arguments_raise_type_error_naming_them(estimator, photo, kw, name):
    kw.setdefault("xyxy", [[50, 20, 330, 425]])
    with pytest.raises(TypeError, match=rf"^{name}:"):
        estimator.run(photo[0], **kw)


@pytest.mark.parametrize("image", [None, "photo.jpg"])
def test_image_that_is_not_an_array_raises_type_error(estimator, image):
    with pytest.raises(TypeError, match="^image:"):
        estimator.run(image, [[0, 0, 10, 10]])


def test_K_with_principal_point_at_the_origin_names_K_not_img_size():
    """K = diag(800, 800, 1) has cx = cy = 0; CLIFF needs the principal point as an image centre
    (W/2, H/2 > 0), and the error names K (not Model.predict's img_size)."""
    from cliff.pipeline import camera_for
    with pytest.raises(ValueError, match="^K: the principal point"):
        camera_for(640, 480, K=np.diag([800.0, 800.0, 1.0]))


def test_run_many_empty_tuple_is_a_value_error(estimator):
    with pytest.raises(ValueError, match="^items:"):
        list(estimator.run_many([()]))


@pytest.mark.parametrize("kw, name", [({"batch_size": "x"}, "batch_size"),
                                      ({"rescale": "big"}, "rescale")])
def test_estimator_options_are_checked_by_name(estimator, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        cliff.Estimator(estimator.model, estimator.smpl, **kw)


# ---- box files (cliff.load_boxes) ----------------------------------------------------------


def test_load_boxes_reads_the_three_forms(tmp_path):
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"a.jpg": [[1, 2, 11, 22], [0, 0, 5, 5, 0.5]]}))
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [{"id": 7, "file_name": "dir/a.jpg"}],
                                "annotations": [{"image_id": 7, "bbox": [1, 2, 10, 20], "category_id": 1},
                                                {"image_id": 7, "bbox": [0, 0, 1, 1], "category_id": 3}]}))
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": "a", "bbox": [1, 2, 10, 20], "score": 0.9}]))
    a = cliff.load_boxes(own)["a.jpg"]
    np.testing.assert_array_equal(a, [[1, 2, 11, 22, 1], [0, 0, 5, 5, 0.5]])
    b = cliff.load_boxes(coco)["a.jpg"]
    np.testing.assert_array_equal(b, [[1, 2, 11, 22, 1]])  # xywh -> xyxy, non-person dropped
    c = cliff.load_boxes(dets)
    np.testing.assert_allclose(cliff.pipeline.boxes_for(c, "/x/a.png"), [[1, 2, 11, 22, 0.9]])


def test_load_boxes_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OSError, match="bad.json"):
        cliff.load_boxes(bad)
    bad.write_text(json.dumps({"a.jpg": [[1, 2, 3]]}))
    with pytest.raises(ValueError, match="bad.json"):
        cliff.load_boxes(bad)


@pytest.mark.parametrize("content", [
    '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "bbox": [1, 2, "x", 4]}]}',
    '{"a.jpg": [[1, 2, "wide", 4]]}',
])
def test_boxes_file_with_a_non_number_names_the_file(tmp_path, content):
    path = tmp_path / "boxes.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"^{path}: malformed boxes file"):
        cliff.load_boxes(path)
