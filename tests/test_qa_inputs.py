"""QA regressions: odd inputs to the Python API (image reader, Estimator, render, readers).

Each test pins a bug found in a QA pass: illegal arguments that raised errors not naming the
argument (or the wrong exception type)."""
import os

import numpy as np
import pytest

import cliff
from cliff.pipeline import camera_for

PHOTO = os.path.join(os.path.dirname(cliff.__file__), "data", "astronaut.jpg")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cliff.files.standin_files("res50", str(tmp_path_factory.mktemp("standin")))


@pytest.fixture(scope="module")
def est(files):
    with cliff.Estimator(*files) as e:
        yield e


@pytest.mark.parametrize("kw, name", [
    ({"xyxy": "abc"}, "xyxy"),
    ({"xyxy": [[object(), 1, 2, 3]]}, "xyxy"),
    ({"focal": "wide"}, "focal"),
    ({"focal": [800.0, 900.0]}, "focal"),
    ({"K": "abc"}, "K"),
])
def test_estimator_non_numeric_arguments_raise_type_error_naming_them(est, kw, name):
    image = cliff.read_image(PHOTO)
    kw.setdefault("xyxy", [[50, 20, 330, 425]])
    with pytest.raises(TypeError, match=rf"^{name}:"):
        est.run(image, **kw)


@pytest.mark.parametrize("image", [None, "photo.jpg"])
def test_estimator_image_that_is_not_an_array_raises_type_error(est, image):
    with pytest.raises(TypeError, match="^image:"):
        est.run(image, [[0, 0, 10, 10]])


def test_K_with_principal_point_at_the_origin_names_K_not_img_size():
    # K = diag(800, 800, 1) has cx = cy = 0; CLIFF needs the principal point as an image
    # centre (W/2, H/2 > 0). The error used to come from Model.predict and name img_size.
    with pytest.raises(ValueError, match="^K: the principal point"):
        camera_for(640, 480, K=np.diag([800.0, 800.0, 1.0]))


def test_run_many_empty_tuple_is_a_value_error(est):
    with pytest.raises(ValueError, match="^items:"):
        list(est.run_many([()]))


@pytest.mark.parametrize("kw, name", [({"batch_size": "x"}, "batch_size"),
                                      ({"rescale": "big"}, "rescale")])
def test_estimator_options_are_checked_by_name(est, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        cliff.Estimator(est.model, est.smpl, **kw)


@pytest.mark.parametrize("focal", [None, "x", ["a", "b"]])
def test_render_focal_that_is_not_a_number_raises_type_error(est, focal):
    v = est.smpl(pose=np.zeros((1, 72)), transl=[[0, 0, 5]])["vertices"]
    with pytest.raises(TypeError, match="^focal:"):
        cliff.render(np.zeros((32, 32, 3), np.uint8), v, est.faces, focal)


@pytest.mark.parametrize("fn", [cliff.load_model, cliff.io.load_checkpoint])
def test_checkpoint_path_none_names_the_argument(fn):
    with pytest.raises(TypeError, match="^path:"):
        fn(None)


def test_checkpoint_with_a_nan_weight_is_refused(files):
    # A corrupt checkpoint (one NaN in a convolution) used to load and give NaN bodies.
    ckpt, _ = files
    sd = cliff.io.load_checkpoint(ckpt)
    key = next(k for k, v in sd.items() if v.ndim == 4)
    sd[key] = sd[key].copy()
    sd[key][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=f"checkpoint key '{key}' contains NaN"):
        cliff.Model.from_state_dict(sd)


@pytest.mark.parametrize("shift", [-100000, 100000])
def test_smpl_file_with_out_of_range_faces_is_refused(files, shift):
    # faces index the 6890 vertices; a corrupt file used to load and fail later (render/export)
    _, smpl = files
    arrays = dict(cliff.io.load_smpl(smpl))
    arrays["faces"] = np.asarray(arrays["faces"]) + shift
    with pytest.raises(ValueError, match=r"^faces: vertex indices must be in \[0, 6890\)"):
        cliff.SMPL(arrays)


def test_fit_people_bad_focal_and_max_iter_name_the_argument(files):
    # a string focal gave numpy's bare "could not convert"; max_iter=10**12 an OverflowError
    _, smpl = files
    fb = cliff.FitBody.from_smpl(dict(cliff.io.load_smpl(smpl)))
    kp = np.full((1, 17, 3), 200.0)
    args = dict(body=fb, rotmat=np.tile(np.eye(3), (1, 24, 1, 1)), betas=np.zeros((1, 10)),
                transl=[[0, 0, 5.0]], keypoints=kp, joint_index=np.arange(17), focal=1000.0,
                principal_point=(256, 256), norm=[300.0])
    with pytest.raises(TypeError, match="^focal:"):
        cliff.fit_people(**{**args, "focal": "x"})
    for bad in (10**12, 0, 2.5):
        with pytest.raises(ValueError, match="^max_iter:"):
            cliff.fit_people(**args, max_iter=bad)


@pytest.mark.parametrize("content", [
    '{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "bbox": [1, 2, "x", 4]}]}',
    '{"a.jpg": [[1, 2, "wide", 4]]}',
])
def test_boxes_file_with_a_non_number_names_the_file(tmp_path, content):
    path = tmp_path / "boxes.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"^{path}: malformed boxes file"):
        cliff.load_boxes(path)


def test_run_many_streams_images_without_people(est):
    # Images with no boxes used to pile up in run_many until batch_size PEOPLE were seen, i.e.
    # a whole video without detections was held in memory before the first result came out.
    pulled = []

    def frames():
        for i in range(50):
            pulled.append(i)
            yield np.zeros((64, 48, 3), np.uint8), np.zeros((0, 4))

    it = est.run_many(frames())
    first = next(it)
    assert first["pose"].shape == (0, 72)
    assert len(pulled) <= est.batch_size
    assert sum(1 for _ in it) == 49
