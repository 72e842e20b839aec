"""HumanFoV, the learned focal length (cliff.FocalEstimator, Estimator(focal="learned")).

Proved against independent parts written in the tests: the release's image preparation with
OpenCV and NumPy, and a PyTorch HumanFoV (tests/reference/torch_fov.py) loaded from the same
stand-in file, written by cliff._standin in the release's layout (a torch.save zip whose
'state_dict' holds FLNet's keys without prefix).
"""
import os

import numpy as np
import pytest

import cliff
from cliff._standin import fov_state_dict, save_fov_checkpoint

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from reference import torch_fov  # noqa: E402

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")

# (H, W): shrinking by non-integer factors, exact 2x and 4x (OpenCV's integer path), enlarging,
# enlarging one axis only, the 256 x 256 copy, extreme aspect ratios
SIZES = [(480, 640), (1080, 1920), (512, 512), (1024, 512), (100, 80), (255, 250), (256, 256),
         (257, 255), (37, 1000), (1000, 999), (3000, 2000)]


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def fov_file(tmp_path_factory):
    return save_fov_checkpoint(str(tmp_path_factory.mktemp("fov") / "cam_model_cleaned.ckpt"), seed=1)


@pytest.fixture(scope="module")
def ref_net(fov_file):
    net = torch_fov.HumanFoV()
    net.load_state_dict(torch.load(fov_file, weights_only=True)["state_dict"], strict=True)
    return net.eval()


@pytest.fixture(scope="module")
def fe(fov_file):
    with cliff.FocalEstimator(fov_file) as f:
        yield f


@pytest.fixture(scope="module")
def photos():
    cam = cliff.read_image(os.path.join(DATA, "cameraman.jpg"))
    return [cam, _image(300, 700, 5), np.ascontiguousarray(cam[:, ::-1][:200])]


# ---- preprocessing --------------------------------------------------------------------------

@pytest.mark.parametrize("ipp", [False, True], ids=["opencv", "ipp"])
@pytest.mark.parametrize("hw", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_letterbox_is_the_release_resize_image_bit_for_bit(hw, ipp):
    """OpenCV INTER_AREA to fit 256, pasted centred on white: every byte equal, with OpenCV's own
    code and with Intel IPP (PyPI wheels)."""
    img = _image(*hw)
    old = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(ipp)
    try:
        want = torch_fov.letterbox(img)
    finally:
        cv2.ipp.setUseIPP(old)
    np.testing.assert_array_equal(cliff.FocalEstimator.letterbox(img), want)


def test_preprocess_equals_the_release_normalisation(photos):
    """/255 in float32, then (x - mean) / std per channel: equal to the release's float32 tensors."""
    got = cliff.FocalEstimator.preprocess(photos)
    assert got.shape == (3, 256, 256, 3) and got.dtype == np.float32
    for g, img in zip(got, photos):
        np.testing.assert_array_equal(g, torch_fov.preprocess(img).transpose(1, 2, 0))


def test_preprocess_bgr_swaps_channels(photos):
    rgb = cliff.FocalEstimator.preprocess(photos[0])
    bgr = cliff.FocalEstimator.preprocess(np.ascontiguousarray(photos[0][..., ::-1]), bgr=True)
    np.testing.assert_array_equal(rgb, bgr)


def test_image_too_elongated_is_a_value_error():
    """1 x 300 would resize to 256 x 0 (cv2.resize refuses it too)."""
    with pytest.raises(ValueError, match=r"images\[1\].*too elongated"):
        cliff.FocalEstimator.preprocess([_image(10, 10), _image(1, 300)])


# ---- file layout ----------------------------------------------------------------------------

def test_keys_are_the_reference_modules_in_state_dict_order():
    """The core's key table equals FLNet's state_dict: names, order and shapes."""
    want = [(k, tuple(v.shape)) for k, v in torch_fov.HumanFoV().state_dict().items()]
    assert list(cliff.focal.fov_keys().items()) == want


def test_standin_file_has_the_release_layout(fov_file):
    """torch.load gives {'state_dict': {...}} with every key, no prefix, BN counters int64."""
    top = torch.load(fov_file, weights_only=True)
    assert list(top) == ["state_dict"]
    sd = top["state_dict"]
    assert list(sd) == list(cliff.focal.fov_keys())
    assert sd["backbone.bn1.num_batches_tracked"].dtype == torch.int64
    assert sd["fc1.weight"].dtype == torch.float32


def test_a_cliff_checkpoint_is_refused_with_the_reason(standin_res50):
    with pytest.raises(ValueError, match="not a CameraHMR HumanFoV checkpoint.*pass it as ckpt"):
        cliff.FocalEstimator(standin_res50[0])


def test_a_missing_key_is_named():
    sd = fov_state_dict(0)
    del sd["fc3.bias"]
    with pytest.raises(ValueError, match=r"1 keys missing \(e.g. \['fc3.bias'\]\)"):
        cliff.FocalEstimator(sd)


def test_fov_ckpt_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="fov_ckpt"):
        cliff.FocalEstimator(3)


# ---- the network ----------------------------------------------------------------------------

def test_raw_outputs_equal_pytorch(fe, ref_net, photos):
    """fc3(fc1(pool(trunk(x)))) on the same inputs: both numbers within 1e-4."""
    x = cliff.FocalEstimator.preprocess(photos)
    raw, feat = fe.run(x)
    with torch.no_grad():
        t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        want_feat = ref_net.features(t).numpy()
        want = ref_net(t).numpy()
    np.testing.assert_allclose(feat, want_feat, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(raw, want, atol=1e-4)


def test_focal_equals_the_release_conversion(fe, ref_net, photos):
    """focal = H / (2 tan(vfov / 2)) with vfov = output[:, 1], per image from its own height."""
    vfov, focal = fe.predict_fov(photos)
    for v, f, img in zip(vfov, focal, photos):
        with torch.no_grad():
            out = ref_net(torch.from_numpy(torch_fov.preprocess(img))[None])
        want_v = out[0, 1]
        want_f = torch_fov.focal_from_vfov(want_v, img.shape[0]).item()
        assert abs(v - want_v.item()) < 1e-4
        assert abs(f - want_f) < 1e-4 * want_f
    # the stand-in's field of view is plausible (~0.8 rad), so focals are image-sized
    assert np.all((vfov > 0.5) & (vfov < 1.2))


def test_batches_equal_single_images(fe, photos):
    """One call for several images of different sizes = one call per image (chunks of 8 too)."""
    many = fe.predict(photos * 4)
    one = np.concatenate([fe.predict(p) for p in photos])
    np.testing.assert_array_equal(many, np.tile(one, 4))


def test_closed_estimator_refuses_calls(fov_file, photos):
    f = cliff.FocalEstimator(fov_file)
    f.close()
    with pytest.raises(ValueError, match="closed"):
        f.predict(photos[0])


# ---- in the pipeline ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def people(photos):
    boxes = cliff.load_boxes(os.path.join(DATA, "boxes.json"))["cameraman.jpg"][:, :4]
    two = np.concatenate([boxes, [[300.0, 200.0, 500.0, 500.0]]]).astype(np.float32)
    return [(photos[0], two), (photos[1], [[100.0, 50.0, 250.0, 290.0]])]


def test_estimator_uses_one_learned_focal_per_image(standin_res50, fov_file, fe, people):
    """Every person of an image gets that image's HumanFoV focal, in bbox_info and t_full: the
    result equals a run with that focal given explicitly."""
    ckpt, smpl = standin_res50[:2]
    with cliff.Estimator(ckpt, smpl, focal="learned", fov_ckpt=fov_file) as est, \
            cliff.Estimator(ckpt, smpl) as plain:
        got = list(est.run_many(people))
        for (img, boxes), res in zip(people, got):
            f = fe.predict(img)[0]
            assert res["focal_learned"] == f
            np.testing.assert_array_equal(res["focal"], np.full(len(boxes), f, np.float32))
            want = plain.run(img, boxes, focal=float(f))
            for k in ("bbox_info", "t_full", "vertices", "joints2d"):
                np.testing.assert_array_equal(res[k], want[k], err_msg=k)


def test_an_explicit_focal_still_wins(standin_res50, fov_file, people):
    ckpt, smpl = standin_res50[:2]
    with cliff.Estimator(ckpt, smpl, focal="learned", fov_ckpt=fov_file) as est:
        res = est.run(*people[1], focal=1234.0)
    assert np.all(res["focal"] == 1234.0) and np.isnan(res["focal_learned"])


def test_learned_focal_arguments_are_checked(standin_res50, fov_file):
    ckpt, smpl = standin_res50[:2]
    with pytest.raises(ValueError, match="needs fov_ckpt"):
        cliff.Estimator(ckpt, smpl, focal="learned")
    with pytest.raises(ValueError, match='only used with focal="learned"'):
        cliff.Estimator(ckpt, smpl, fov_ckpt=fov_file)
    with pytest.raises(ValueError, match="focal: expected"):
        cliff.Estimator(ckpt, smpl, focal="auto")


def test_cli_predict_focal_learned_stores_the_focal(standin_res50, fov_file, fe, tmp_path):
    """cliff predict --focal learned --fov-ckpt F: focal_l (per person) and focal_learned (per
    image) hold HumanFoV's estimate."""
    import json
    from cliff.cli import main
    ckpt, smpl = standin_res50[:2]
    img = os.path.join(DATA, "cameraman.jpg")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"cameraman.jpg": [[150, 40, 330, 480]]}))
    out = tmp_path / "out.npz"
    rc = main(["predict", img, "--ckpt", ckpt, "--smpl", smpl, "--boxes", str(boxes), "--focal", "learned",
               "--fov-ckpt", fov_file, "-o", str(out), "--quiet"])
    assert rc == 0
    r = np.load(out)
    f = fe.predict(cliff.read_image(img))[0]
    np.testing.assert_array_equal(r["focal_learned"], [f])
    np.testing.assert_array_equal(r["focal_l"], [f])


def test_cli_focal_learned_without_weights_says_what_is_needed(standin_res50, tmp_path, capsys):
    from cliff.cli import main
    ckpt, smpl = standin_res50[:2]
    rc = main(["predict", os.path.join(DATA, "cameraman.jpg"), "--ckpt", ckpt, "--smpl", smpl,
               "--focal", "learned", "-o", str(tmp_path / "o.npz"), "--quiet", "--boxes",
               os.path.join(DATA, "boxes.json")])
    assert rc == 2 and "--focal learned needs CameraHMR's cam_model_cleaned.ckpt" in capsys.readouterr().err


def test_cli_focal_learned_finds_the_fov_file_under_cliff_home(standin_res50, fov_file, fe, tmp_path,
                                                              monkeypatch):
    """Without --fov-ckpt, $CLIFF_HOME/ckpt/cam_model_cleaned.ckpt is used (as yolov3.weights is):
    the stored focal is that file's estimate."""
    import json
    from cliff.cli import main
    ckpt, smpl = standin_res50[:2]
    (tmp_path / "home" / "ckpt").mkdir(parents=True)
    os.symlink(fov_file, tmp_path / "home" / "ckpt" / "cam_model_cleaned.ckpt")
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path / "home"))
    img = os.path.join(DATA, "cameraman.jpg")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"cameraman.jpg": [[150, 40, 330, 480]]}))
    out = tmp_path / "out.npz"
    rc = main(["predict", img, "--ckpt", ckpt, "--smpl", smpl, "--boxes", str(boxes), "--focal", "learned",
               "-o", str(out), "--quiet"])
    assert rc == 0
    np.testing.assert_array_equal(np.load(out)["focal_learned"], fe.predict(cliff.read_image(img)))


def test_the_fov_file_given_as_a_network_checkpoint_says_where_it_goes(fov_file):
    with pytest.raises(ValueError, match="HumanFoV camera model.*--fov-ckpt"):
        cliff.load_model(fov_file)


def test_bf16_is_close_to_fp32(fov_file, fe, photos):
    """bf16 convolutions (AVX-512 CPUs): the focal within 1 % of fp32's."""
    try:
        f16 = cliff.FocalEstimator(fov_file, precision="bf16")
    except ValueError as exc:
        pytest.skip(str(exc))
    with f16:
        np.testing.assert_allclose(f16.predict(photos), fe.predict(photos), rtol=1e-2)
