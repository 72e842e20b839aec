"""The PyTorch reference networks, the core's architecture tables and the network fixtures are right.

The engine tests (tests/test_model.py) trust these, so each is checked against something
independent: the official checkpoint key lists (tests/data/official_keys_*.txt, derived
separately from the release's model code), the parameter totals and mean parameters of the
release (docs/official.md#checkpoint, #mean-params), float64 NumPy formulas for the geometry
helpers.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the network reference needs torch (test extra)")

from cliff import _standin, constants  # noqa: E402
from cliff.model import detect_backbone, expected_keys  # noqa: E402  (the core's tables)
from fixtures_nets import make_inputs, official_key_list  # noqa: E402
from reference import torch_cliff as tc  # noqa: E402

BACKBONES = ["res50", "hr48"]

# smpl_mean_params.npz of the release (docs/official.md#mean-params): root 6D and mean betas.
OFFICIAL_MEAN_ROOT_6D = (1.0, 0.0, 0.0, -1.0000004768371582, 0.0, 1.5099581673894136e-07)
OFFICIAL_MEAN_SHAPE = (0.20560974, 0.33556297, -0.35068282, 0.35612896, 0.41754073,
                       0.030887909, 0.30475676, 0.23613405, 0.20912662, 0.31212646)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_reference_state_dict_equals_official_key_list(backbone):
    # Same keys, same shapes, same order as the official state_dict (1967 / 331 entries).
    sd = tc.build_cliff(backbone).state_dict()
    mine = [(k, tuple(v.shape)) for k, v in sd.items()]
    assert mine == official_key_list(backbone)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_expected_keys_equal_official_key_list(backbone):
    assert list(expected_keys(backbone).items()) == official_key_list(backbone)


@pytest.mark.parametrize("backbone,n_keys,n_params", [("hr48", 1967, 78_893_405),
                                                      ("res50", 331, 26_980_573)])
def test_key_count_and_learnable_parameters_match_the_release(backbone, n_keys, n_params):
    # docs/official.md#checkpoint, key and parameter totals (learnable = all float entries
    # except BN running statistics and the init_* buffers), counted on both the official key
    # list (tests/data) and the core's tables (cliff.model.expected_keys), and on the PyTorch reference's parameters.
    listed = official_key_list(backbone)
    assert len(listed) == n_keys
    assert sum(int(np.prod(s)) for k, s in listed if not k.startswith("init_") and not k.endswith(
        ("running_mean", "running_var", "num_batches_tracked"))) == n_params
    keys = expected_keys(backbone)
    assert len(keys) == n_keys
    learnable = sum(int(np.prod(s)) for k, s in keys.items()
                    if not k.startswith("init_") and not k.endswith(
                        ("running_mean", "running_var", "num_batches_tracked")))
    assert learnable == n_params
    assert tc.num_params(tc.build_cliff(backbone)) == n_params


def test_core_marks_num_batches_tracked_int64_and_everything_else_float32():
    # the official lists' convention (tests/data/official_keys_*.txt header)
    from cliff import _core
    for backbone in BACKBONES:
        for key, shape, dtype in _core.net_arch_keys(backbone):
            assert dtype == ("int64" if key.endswith("num_batches_tracked") else "float32"), key
            assert (shape == ()) == key.endswith("num_batches_tracked"), key


def test_mean_parameter_constants_are_the_release_values():
    assert constants.MEAN_ROOT_6D == OFFICIAL_MEAN_ROOT_6D
    assert constants.MEAN_SHAPE == OFFICIAL_MEAN_SHAPE
    assert constants.MEAN_CAM == (0.9, 0.0, 0.0)


def test_regressor_sizes_from_the_core_match_the_official_keys():
    keys = dict(official_key_list("res50"))
    assert keys["init_pose"] == (1, constants.NUM_POSE6D)
    assert keys["init_shape"] == (1, constants.NUM_BETAS)
    assert keys["init_cam"] == (1, constants.NUM_CAM)
    assert keys["fc1.weight"][1] == constants.NUM_FEATURES + 3 + constants.NUM_STATE
    assert constants.BACKBONES == ("hr48", "res50")


def test_detect_backbone_on_an_incomplete_checkpoint():
    # a checkpoint with keys missing is still recognised, so that loading it names what is
    # missing instead of failing to recognise it
    keys = [k for k, _ in official_key_list("res50") if "layer4" not in k]
    assert detect_backbone(keys) == "res50"


def test_expected_keys_rejects_unknown_backbone():
    with pytest.raises(ValueError, match="backbone"):
        expected_keys("vit")


@pytest.mark.parametrize("backbone", BACKBONES)
def test_detect_backbone_with_and_without_module_prefix(backbone):
    keys = [k for k, _ in official_key_list(backbone)]
    assert detect_backbone(keys) == backbone
    assert detect_backbone(["module." + k for k in keys]) == backbone


def test_detect_backbone_rejects_foreign_keys():
    with pytest.raises(ValueError, match="not a CLIFF"):
        detect_backbone(["fc1.weight", "fc1.bias", "backbone.conv1.weight"])


def test_random_state_dict_is_deterministic_and_seed_dependent():
    a = _standin.random_state_dict("res50", seed=3)
    b = _standin.random_state_dict("res50", seed=3)
    c = _standin.random_state_dict("res50", seed=4)
    assert list(a) == [k for k, _ in official_key_list("res50")]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["encoder.conv1.weight"], c["encoder.conv1.weight"])


def test_random_state_dict_dtypes_shapes_and_batchnorm_statistics():
    sd = _standin.random_state_dict("res50", seed=0)
    for k, shape in official_key_list("res50"):
        assert sd[k].shape == shape, k
        assert sd[k].dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32), k
    var = np.concatenate([v for k, v in sd.items() if k.endswith("running_var")])
    mean = np.concatenate([v for k, v in sd.items() if k.endswith("running_mean")])
    gamma = np.concatenate([v for k, v in sd.items() if k.endswith(("bn1.weight", "bn2.weight",
                                                                    "bn3.weight"))])
    assert 0.5 <= var.min() and var.max() <= 2.0 and var.std() > 0.3  # non-trivial, not 1
    assert abs(mean.std() - 0.1) < 0.01
    assert 0.8 <= gamma.min() and gamma.max() <= 1.2 and gamma.std() > 0.05


def test_random_state_dict_mean_params():
    sd = _standin.random_state_dict("hr48", seed=0)
    np.testing.assert_array_equal(sd["init_pose"][0, :6], np.float32(OFFICIAL_MEAN_ROOT_6D))
    np.testing.assert_array_equal(sd["init_shape"][0], np.float32(OFFICIAL_MEAN_SHAPE))
    np.testing.assert_array_equal(sd["init_cam"][0], np.float32([0.9, 0, 0]))
    # The other 23 joints are small rotations: their rotmats are near identity.
    R = tc.rot6d_to_rotmat(torch.from_numpy(sd["init_pose"])).numpy()[1:]
    assert np.abs(R - np.eye(3)).max() < 0.45


def test_random_state_dict_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        _standin.random_state_dict("res50", seed=-1)


def test_fixture_checkpoint_has_the_released_layout(ref_res50):
    """The fixture checkpoint is laid out like the released files (docs/official.md#checkpoint):
    a torch.save dict with extra top-level entries, whose 'model' maps 'module.' + key to a
    tensor, with exactly the official keys, shapes and order (tests/data/official_keys_*.txt),
    0-d int64 num_batches_tracked and float32 everything else."""
    ckpt = torch.load(ref_res50.path, map_location="cpu", weights_only=True)
    assert set(ckpt) == {"model", "epoch", "step"}
    assert all(k.startswith("module.") for k in ckpt["model"])
    got = [(k[len("module."):], tuple(v.shape)) for k, v in ckpt["model"].items()]
    assert got == official_key_list("res50")
    for k, v in ckpt["model"].items():
        assert v.dtype == (torch.int64 if k.endswith("num_batches_tracked") else torch.float32), k


def test_reference_outputs_are_sane(ref_net):
    # Random weights still give a usable network: O(1) features, finite outputs, proper
    # rotations, positive camera scale and depth, and different people give different results.
    inp = make_inputs(3, seed=1)
    out = ref_net.outputs(inp["crops"], inp["boxes"], inp["img_size"])
    assert all(np.isfinite(v).all() for v in out.values())
    f = out["features"]
    assert 0.3 < f.std() < 3 and f.min() >= 0  # after the final ReLU and mean
    # people differ by far more than the engine tests' 1e-4 tolerance
    assert np.abs(f[0] - f[1]).max() > 0.01 * np.abs(f).max()
    R = out["rotmat"].astype(np.float64)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(R), 1, atol=1e-5)
    assert (out["cam_crop"][:, 0] > 0.3).all() and (out["t_full"][:, 2] > 0).all()
    assert np.abs(out["betas"]).max() < 5
    assert np.abs(out["cam_crop"][0] - out["cam_crop"][1]).max() > 1e-3
    assert np.abs(out["rotmat"][0] - out["rotmat"][1]).max() > 1e-3


def test_reference_batch_equals_per_item(ref_net):
    inp = make_inputs(3, seed=2)
    full = ref_net.outputs(inp["crops"], inp["boxes"], inp["img_size"])
    for i in range(3):
        one = ref_net.outputs(inp["crops"][i:i + 1], inp["boxes"][i:i + 1], inp["img_size"])
        for k in ("rotmat", "betas", "cam_crop", "features"):
            np.testing.assert_allclose(one[k][0], full[k][i], rtol=1e-4, atol=1e-5, err_msg=k)


def test_uint8_and_float_crops_give_same_reference(ref_res50):
    inp = make_inputs(2, seed=3)
    a = ref_res50.outputs(inp["crops"], inp["boxes"], inp["img_size"])
    b = ref_res50.outputs(inp["crops_u8"], inp["boxes"], inp["img_size"])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_normalize_crops_matches_float64_formula():
    u8 = np.random.default_rng(0).integers(0, 256, (2, 256, 192, 3), dtype=np.uint8)
    got = tc.normalize_crops(torch.from_numpy(u8)).numpy()
    want = ((u8 / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, want, atol=2e-6)


# ---- geometry helpers against float64 NumPy -------------------------------------------------

def _gram_schmidt_f64(x6):
    m = x6.reshape(-1, 3, 2).astype(np.float64)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = a1 / np.linalg.norm(a1, axis=1, keepdims=True)
    u = a2 - np.sum(b1 * a2, axis=1, keepdims=True) * b1
    b2 = u / np.linalg.norm(u, axis=1, keepdims=True)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-1)


def test_rot6d_to_rotmat_matches_float64_gram_schmidt():
    x = np.random.default_rng(0).normal(size=(5, 144)).astype(np.float32)
    got = tc.rot6d_to_rotmat(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, _gram_schmidt_f64(x), atol=2e-6)


def test_rot6d_mean_root_is_180_degrees_about_x():
    R = tc.rot6d_to_rotmat(torch.tensor([OFFICIAL_MEAN_ROOT_6D], dtype=torch.float32)).numpy()[0]
    np.testing.assert_allclose(R, np.diag([1.0, -1.0, -1.0]), atol=1e-6)


def test_rotmat_to_axis_angle_inverts_rodrigues():
    rng = np.random.default_rng(0)
    axis = rng.normal(size=(200, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = rng.uniform(0.01, np.pi - 0.05, 200)
    K = np.zeros((200, 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    K -= np.swapaxes(K, 1, 2)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    R = np.eye(3) + s * K + (1 - c) * K @ K
    got = tc.rotmat_to_axis_angle(torch.tensor(R, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, axis * angle[:, None], atol=2e-4)
    assert np.abs(tc.rotmat_to_axis_angle(torch.eye(3)[None]).numpy()).max() == 0


def test_bbox_info_matches_paper_form_rescaled():
    # bbox_info = [2.8 cx/f, 2.8 cy/f, (b/f - 0.24)/0.06] with cx, cy relative to the image centre.
    boxes = np.array([[840.0, 300.0, 400.0], [100.0, 650.0, 90.0]])
    W, H = 1280.0, 720.0
    f = np.hypot(W, H)
    want = np.stack([2.8 * (boxes[:, 0] - W / 2) / f, 2.8 * (boxes[:, 1] - H / 2) / f,
                     (boxes[:, 2] / f - 0.24) / 0.06], 1)
    got = tc.bbox_info(torch.tensor(boxes), torch.tensor([W, H]), tc.default_focal([W, H]))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert abs(float(tc.default_focal([W, H])[0]) - f) < 1e-3


def test_cam_crop2full_reprojects_origin_like_the_crop_camera():
    # Projecting t_full with focal f and principal point (W/2, H/2) must land where the weak
    # perspective crop camera puts the model origin: box centre + s*t*b/2; and t_z = 2f/(b s).
    rng = np.random.default_rng(5)
    W, H, f = 1920.0, 1080.0, 1500.0
    boxes = np.stack([rng.uniform(200, 1700, 4), rng.uniform(200, 900, 4),
                      rng.uniform(100, 800, 4)], 1)
    cam = np.stack([rng.uniform(0.5, 1.2, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4)], 1)
    t = tc.cam_crop2full(torch.tensor(cam), torch.tensor(boxes), torch.tensor([W, H]), f)
    t = t.numpy().astype(np.float64)
    s, b = cam[:, 0], boxes[:, 2]
    np.testing.assert_allclose(t[:, 2], 2 * f / (b * s), rtol=1e-5)
    np.testing.assert_allclose(f * t[:, 0] / t[:, 2] + W / 2, boxes[:, 0] + s * cam[:, 1] * b / 2,
                               atol=2e-3)
    np.testing.assert_allclose(f * t[:, 1] / t[:, 2] + H / 2, boxes[:, 1] + s * cam[:, 2] * b / 2,
                               atol=2e-3)


def test_npz_writer_holds_plain_keys(tmp_path):
    from fixtures_nets import write_checkpoint
    sd = write_checkpoint(tmp_path / "r.npz", "res50", 5)
    with np.load(tmp_path / "r.npz") as z:
        assert list(z.keys()) == list(sd)
        assert np.array_equal(z["fc1.weight"], sd["fc1.weight"])
