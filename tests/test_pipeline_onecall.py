"""Estimator.run / run_many in one C call (cliff_estimate_batch) against the composition of the
public pieces it replaced (tests/reference/composition.py: cliff.crop -> Model.predict -> SMPL
-> project_points, four crossings into C). The one-call path computes every step with the
same functions in the same precision, so every output array must be equal bit for bit (not
within a tolerance): same dtype, same shape, same bytes."""
import os

import numpy as np
import pytest

import cliff
from cliff._standin import random_state_dict, smpl_arrays
from reference.composition import compose_batch, compose_run

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")


def assert_bitwise_equal(new: dict, old: dict):
    assert set(new) == set(old), set(new) ^ set(old)
    for k in old:
        a, b = np.asarray(new[k]), np.asarray(old[k])
        assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, a.shape, b.dtype, b.shape)
        assert a.tobytes() == b.tobytes(), f"{k}: max |delta| {np.max(np.abs(a.astype(np.float64) - b)):.3g}"


@pytest.fixture(scope="module")
def smpl():
    return cliff.SMPL(smpl_arrays(seed=5))


@pytest.fixture(scope="module")
def res50():
    with cliff.Model.from_state_dict(random_state_dict("res50", seed=11)) as m:
        yield m


@pytest.fixture(scope="module")
def est(res50, smpl):
    return cliff.Estimator(res50, smpl, batch_size=4)


@pytest.fixture(scope="module")
def photo():
    image = cliff.read_image(os.path.join(DATA, "cameraman.jpg"))
    boxes = cliff.load_boxes(os.path.join(DATA, "boxes.json"))["cameraman.jpg"][:, :4]
    return image, np.concatenate([boxes, [[300.0, 200.0, 560.0, 520.0]]])


def noise_image(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_photo_default_camera(est, res50, smpl, photo):
    image, boxes = photo
    assert_bitwise_equal(est.run(image, boxes), compose_run(res50, smpl, image, boxes))


def test_bgr_flag_reads_channels_swapped_without_a_python_copy(est, res50, smpl, photo):
    image, boxes = photo
    bgr = np.ascontiguousarray(image[..., ::-1])
    assert_bitwise_equal(est.run(bgr, boxes, bgr=True), compose_run(res50, smpl, bgr, boxes, bgr=True))


def test_given_focal_and_boxes_with_scores(est, res50, smpl):
    image = noise_image(480, 640, 1)
    boxes = np.array([[10.5, 20.25, 200.0, 460.0, 0.9], [-40.0, 100.0, 90.0, 300.0, 0.5],
                      [600.0, 0.0, 700.0, 479.0, 0.7]])
    assert_bitwise_equal(est.run(image, boxes, focal=1234.5),
                         compose_run(res50, smpl, image, boxes, focal=1234.5))


@pytest.mark.parametrize("K", [(1500.0, 1480.0, 300.5, 250.25),
                               [[900.0, 0, 333.0], [0, 901.5, 200.0], [0, 0, 1]]])
def test_intrinsics_with_an_off_centre_principal_point(est, res50, smpl, K):
    image = noise_image(400, 700, 2)
    boxes = [[100.0, 50.0, 260.0, 390.0], [400.0, 80.0, 520.0, 300.0]]
    assert_bitwise_equal(est.run(image, boxes, K=K), compose_run(res50, smpl, image, boxes, K=K))


def test_rgba_and_non_contiguous_images(est, res50, smpl):
    rgba = np.dstack([noise_image(300, 500, 3), np.full((300, 500), 255, np.uint8)])
    view = noise_image(600, 1000, 4)[::2, ::2]
    for image in (rgba, view):
        boxes = [[50.0, 20.0, 200.0, 280.0]]
        assert_bitwise_equal(est.run(image, boxes), compose_run(res50, smpl, image, boxes))


def test_run_many_batches_people_of_several_images_in_one_call(res50, smpl, photo):
    """People of several images in one C call; with 14 people the network runs a chunk of 8 and
    one of 6 that straddle images, exactly as one Model.predict on all of them did."""
    est = cliff.Estimator(res50, smpl, batch_size=12)
    image, boxes = photo
    items = [(image, boxes, None, None),
             (noise_image(360, 640, 5), [[10.0, 10.0, 100.0, 300.0], [210.0, 10.0, 300.0, 300.0]],
              800.0, None),
             (noise_image(500, 500, 6), [[20.0 * i, 30.0, 20.0 * i + 150, 420.0] for i in range(7)],
              None, (600.0, 610.0, 240.0, 260.0))]
    new = list(est.run_many([(im, xy, f) for im, xy, f, K in items[:2]]))
    old = compose_batch(res50, smpl, items[:2])
    for a, b in zip(new, old):
        assert_bitwise_equal(a, b)
    K = items[2][3]  # run_many takes one K for all images
    new = list(est.run_many([(items[2][0], items[2][1])] * 2, K=K))
    old = compose_batch(res50, smpl, [(items[2][0], items[2][1], None, K)] * 2)
    for a, b in zip(new, old):
        assert_bitwise_equal(a, b)


def test_bf16_encoder(smpl, photo):
    if "avx512" not in cliff.info()["onednn_isa"]:
        pytest.skip("bf16 needs AVX-512")
    image, boxes = photo
    with cliff.Model.from_state_dict(random_state_dict("res50", seed=11), precision="bf16") as m:
        est = cliff.Estimator(m, smpl)
        assert_bitwise_equal(est.run(image, boxes), compose_run(m, smpl, image, boxes))


@pytest.mark.slow
def test_hr48(smpl, photo):
    image, boxes = photo
    with cliff.Model.from_state_dict(random_state_dict("hr48", seed=12)) as m:
        est = cliff.Estimator(m, smpl)
        assert_bitwise_equal(est.run(image, boxes, focal=1000.0),
                             compose_run(m, smpl, image, boxes, focal=1000.0))
