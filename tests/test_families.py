"""CLIFF network families (cliff.families; docs/models.md): each released layout is recognised from
its keys and runs with the release's own numbers (docs/official.md#families).

Every family is proved on random weights written in its exact file layout by
cliff._standin.save_family_file (key names, prefixes, Lightning / mmcv wrappers, the entries the
core never reads), against the PyTorch references of tests/reference/torch_families.py loaded
from the same file with strict key checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cliff
from cliff import families as F
from cliff._standin import save_family_file
from reference import torch_cliff as tc
from reference import torch_families as tf

TOL = 1e-4


def _strict_reference(path, fam):
    return tf.load_release(path, fam.lightning, fam.joints, fam.betas)


@pytest.fixture(scope="module", params=["mmhuman3d-res50", "bedlam-cliff", "bedlam-cliff-x"])
def released(request, tmp_path_factory):
    fam = F.family(request.param)
    path = tmp_path_factory.mktemp("fam") / ("file" + (".ckpt" if fam.lightning else ".pth"))
    save_family_file(path, fam.name, seed=7)
    return fam, path, _strict_reference(path, fam), cliff.load_model(path)


def _inputs(fam, n=3, seed=0, img_size=(1280, 720)):
    rng = np.random.default_rng(seed)
    h, w = fam.crop
    crops = rng.standard_normal((n, 3, h, w)).astype(np.float32)
    W, H = img_size
    boxes = np.stack([rng.uniform(0.2, 0.8, n) * W, rng.uniform(0.3, 0.7, n) * H,
                      rng.uniform(0.3, 0.9, n) * H], 1).astype(np.float32)
    return crops, boxes, np.array(img_size, np.float32)


def test_table_rows():
    """The five families and their facts (docs/official.md#families)."""
    got = {f.name: (f.trunk, f.crop, f.bbox_info, f.features, f.joints, f.betas, f.body) for f in F.FAMILIES}
    assert got == {
        "cliff-hr48": ("hr48", (256, 192), "released", 2048, 24, 10, "smpl"),
        "cliff-res50": ("res50", (256, 192), "released", 2048, 24, 10, "smpl"),
        "mmhuman3d-res50": ("res50", (256, 192), "released", 2048, 24, 10, "smpl"),
        "bedlam-cliff": ("hr48_720", (224, 224), "paper", 720, 24, 10, "smpl"),
        "bedlam-cliff-x": ("hr48_720", (224, 224), "paper", 720, 22, 11, "smplx"),
    }


def test_head_input_sizes():
    """fc1 takes features + bbox_info (3) + pose (6 x joints) + betas + cam (3):
    BEDLAM cliff.ckpt 720+3+144+13 = 880, bedlam_cliff.ckpt 720+3+132+14 = 869, CLIFF 2208."""
    fc1 = {b: cliff.model.expected_keys(b)[("" if b in ("hr48", "res50") else "head.") + "fc1.weight"][1]
           for b in ("hr48", "mmhuman3d-res50", "bedlam-cliff", "bedlam-cliff-x")}
    assert fc1 == {"hr48": 2208, "mmhuman3d-res50": 2208, "bedlam-cliff": 880, "bedlam-cliff-x": 869}


def test_file_is_recognised(released):
    fam, _, _, model = released
    assert model.family == fam and model.backbone == fam.backbone


def test_outputs_match_the_release(released):
    """rotations, betas, crop camera and full-frame translation equal the release's PyTorch
    code on the same weights (bbox_info of the family's form, the image-diagonal focal)."""
    fam, _, ref, model = released
    crops, boxes, size = _inputs(fam)
    out = model.predict(crops, boxes, size)
    f = tc.default_focal(torch.from_numpy(size).reshape(1, 2).double()).expand(3)
    if fam.bbox_info == "paper":
        info = tf.bbox_info_plain(boxes, size, f)
    else:
        info = tc.bbox_info(torch.from_numpy(boxes), torch.from_numpy(size), f)
    with torch.no_grad():
        rotmat, betas, cam, _ = ref(torch.from_numpy(crops), info)
        if fam.lightning:
            t_full = tf.cam_full_bedlam(cam, boxes, size, f)
        else:
            t_full = tc.cam_crop2full(cam, torch.from_numpy(boxes), torch.from_numpy(size), f)
    n, J = crops.shape[0], fam.joints
    assert out["rotmat"].shape == (n, J, 3, 3) and out["pose"].shape == (n, 3 * J)
    assert out["betas"].shape == (n, fam.betas)
    np.testing.assert_allclose(out["bbox_info"], info.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["rotmat"], rotmat.numpy(), atol=TOL)
    np.testing.assert_allclose(out["betas"], betas.numpy(), atol=TOL)
    np.testing.assert_allclose(out["cam_crop"], cam.numpy(), atol=TOL)
    np.testing.assert_allclose(out["t_full"], t_full.numpy(), rtol=TOL, atol=TOL)
    # the outputs depend on the input: different people, different results
    assert np.abs(out["rotmat"][0] - out["rotmat"][1]).max() > 1e-3


def test_uint8_crops_of_the_family_size(released):
    fam, _, _, model = released
    h, w = fam.crop
    u8 = np.random.default_rng(1).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    x = tc.normalize_crops(torch.from_numpy(u8)).numpy()
    _, boxes, size = _inputs(fam, 2)
    a, b = model.predict(u8, boxes, size), model.predict(x, boxes, size)
    np.testing.assert_allclose(a["rotmat"], b["rotmat"], atol=1e-5)


def test_crops_of_another_family_are_refused(released):
    fam, _, _, model = released
    other = (256, 192) if fam.crop == (224, 224) else (224, 224)
    with pytest.raises(ValueError, match=r"crops: expected \(N, 3, %d, %d\)" % fam.crop):
        model.predict(np.zeros((1, 3) + other, np.float32), np.ones((1, 3), np.float32), (640, 480))


def test_unknown_file_names_candidates_and_first_bad_keys(tmp_path):
    """A file of no family: ValueError naming every family and the closest one's first
    missing / unexpected keys."""
    sd = cliff._standin.family_file_state("bedlam-cliff", 0)
    sd = {k.replace("model.head.fc2", "model.head.fc9"): v for k, v in sd.items()}
    p = tmp_path / "odd.ckpt"
    cliff.io.save_checkpoint(p, sd, prefix="", key="state_dict")
    with pytest.raises(ValueError) as ei:
        cliff.load_model(p)
    msg = str(ei.value)
    for f in F.FAMILIES:
        assert f.name in msg
    assert "Closest: bedlam-cliff" in msg and "head.fc2.weight" in msg and "head.fc9.weight" in msg


def test_misshapen_head_is_not_the_other_family(tmp_path):
    """bedlam-cliff and bedlam-cliff-x have the same key names: the shapes decide."""
    sd = cliff._standin.family_file_state("bedlam-cliff-x", 0)
    sd["model.head.decshape.weight"] = np.zeros((12, 1024), np.float32)
    with pytest.raises(ValueError, match="wrong shape: head.decshape.weight"):
        F.detect_family(sd)


def test_mmhuman3d_without_batchnorm_counters(tmp_path):
    """num_batches_tracked entries are unused at inference: a file without them loads."""
    sd = cliff._standin.family_file_state("mmhuman3d-res50", 0)
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert F.detect_family(sd).name == "mmhuman3d-res50"


def test_explicit_backbone_must_agree(released):
    fam, path, _, _ = released
    other = "bedlam-cliff" if fam.name != "bedlam-cliff" else "mmhuman3d-res50"
    with pytest.raises(ValueError, match="holds a %s network" % fam.name):
        cliff.load_model(path, backbone=other)


class HParams:
    """A config object of the kind Lightning pickles into hyper_parameters (yacs CfgNode,
    omegaconf DictConfig): a class the reader has never heard of."""

    def __init__(self):
        self.MODEL = {"BACKBONE": "hrnet_w48-conv"}
        self.lr = 5e-5


class CfgDict(dict):
    """A dict subclass with attributes, like yacs' CfgNode."""


def _lightning_file(path, hparams):
    sd = cliff._standin.family_file_state("bedlam-cliff", 3)
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.Adam([p], lr=5e-5)
    p.grad = torch.ones(4)
    opt.step()
    torch.save({"epoch": 3, "global_step": 999, "pytorch-lightning_version": "2.1.0",
                "state_dict": {k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()},
                "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}},
                "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "x.ckpt"}},
                "optimizer_states": [opt.state_dict()], "lr_schedulers": [],
                "hparams_name": "hparams", "hyper_parameters": hparams}, str(path))
    return sd


def test_real_lightning_file_with_config_objects_loads(tmp_path):
    """torch.save of a Lightning-shaped checkpoint whose hyper_parameters hold objects of
    unknown classes (a plain class and a dict subclass, as yacs/omegaconf configs are) and an
    Adam optimizer_states entry: only state_dict is read, the rest is inert."""
    cfg = CfgDict(TRIAL={"bedlam_bbox": True})
    cfg.extra = HParams()
    sd = _lightning_file(tmp_path / "l.ckpt", {"hparams": HParams(), "cfg": cfg})
    m = cliff.load_model(tmp_path / "l.ckpt")
    assert m.family.name == "bedlam-cliff"
    got = cliff.io.load_checkpoint(tmp_path / "l.ckpt")
    assert list(got) == list(sd)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, ("touch %s" % self.marker,)


def test_code_in_hyper_parameters_is_still_refused(tmp_path):
    """Placeholders are for class-like names only: os.system anywhere in the file is refused,
    nothing runs."""
    marker = tmp_path / "pwned"
    _lightning_file(tmp_path / "e.ckpt", {"hparams": HParams(), "evil": _Evil(marker)})
    with pytest.raises(cliff.io.unpickle.UnsafePickleError, match="system"):
        cliff.io.load_checkpoint(tmp_path / "e.ckpt")
    assert not marker.exists()


def test_object_inside_the_state_dict_is_refused(tmp_path):
    torch.save({"state_dict": {"model.backbone.conv1.weight": HParams()}}, str(tmp_path / "o.ckpt"))
    with pytest.raises(ValueError, match=r"object of class .*HParams, not a tensor"):
        cliff.io.load_checkpoint(tmp_path / "o.ckpt")
