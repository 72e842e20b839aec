"""The issue's end-to-end command on stand-in files:

    cliff predict --ckpt bedlam_cliff.ckpt --smplx SMPLX_NEUTRAL.npz --focal learned \
        --fov-ckpt cam_model_cleaned.ckpt photo.jpg

against a composition of independent references written in the tests, each from its release:
HumanFoV in PyTorch (tests/reference/torch_fov.py) for the focal, BEDLAM's 224 x 224 crop as the
release computes it (scikit-image resize; tests/test_crop_skimage.py), BEDLAM-CLIFF's network in PyTorch with its bbox_info and
crop -> full camera (tests/reference/torch_families.py), and the `smplx` package's SMPLXLayer
(BEDLAM's body: 22 rotations, 11 betas, hands and face at rest) for vertices and joints. Every
file is a stand-in in its release's exact layout (cliff._standin); nothing here is a trained body.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import cliff
from cliff import _standin as standin
from cliff.io import smplx as sxio

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")
pytest.importorskip("cv2")

from reference import torch_families as tf  # noqa: E402
from reference import torch_fov  # noqa: E402
from test_crop_bedlam import tracker_box  # noqa: E402
from test_crop_skimage import release_crop  # noqa: E402

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")
TOL = 1e-4
# a 50 MB SMPL-X stand-in, two HRNet-W48 references in PyTorch: make test-slow (CI runs it)
pytestmark = pytest.mark.slow
BOXES = [[150.0, 40.0, 330.0, 480.0], [300.0, 200.0, 500.0, 500.0]]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    ckpt, body, fov = d / "bedlam_cliff.ckpt", d / "SMPLX_NEUTRAL.npz", d / "cam_model_cleaned.ckpt"
    standin.save_family_file(ckpt, "bedlam-cliff-x", seed=3)
    # 300 shape + 100 expression components: the layout smplx needs to use 11 betas
    sxio.save_smplx_npz(body, standin.smplx_arrays(0, 300), dtype=np.float32)
    standin.save_fov_checkpoint(fov, seed=2)
    boxes = d / "boxes.json"
    boxes.write_text(json.dumps({"cameraman.jpg": BOXES}))
    return {k: str(v) for k, v in dict(ckpt=ckpt, body=body, fov=fov, boxes=boxes, dir=d).items()}


@pytest.fixture(scope="module")
def reference(files):
    """The releases' own computation, composed from the test references."""
    img = cliff.read_image(os.path.join(DATA, "cameraman.jpg"))
    H, W = img.shape[:2]
    fov = torch_fov.HumanFoV()
    fov.load_state_dict(torch.load(files["fov"], weights_only=True)["state_dict"], strict=True)
    net = tf.BedlamHMR(22, 11)
    sd = torch.load(files["ckpt"], weights_only=True)["state_dict"]
    net.load_state_dict({k[len("model."):]: v for k, v in sd.items()
                         if k.startswith(("model.backbone.", "model.head."))}, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body = smplx.SMPLXLayer(files["body"], ext="npz", num_betas=11)
    with torch.no_grad():
        vfov = fov.eval()(torch.from_numpy(torch_fov.preprocess(img))[None])[0, 1]
        f = torch_fov.focal_from_vfov(vfov, H).item()
        crops, boxes = [], []
        for xyxy in BOXES:
            center, scale = tracker_box(xyxy)
            crops.append(release_crop(img, xyxy).astype(np.float32))
            boxes.append([center[0], center[1], 200 * scale])
        boxes = np.asarray(boxes, np.float32)
        info = tf.bbox_info_plain(boxes, (W, H), f)
        rotmat, betas, cam, _ = net.eval()(torch.from_numpy(np.stack(crops)), info)
        t_full = tf.cam_full_bedlam(cam, boxes, (W, H), f)
        out = body(betas=betas, global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:], transl=t_full)
    return {"focal": f, "rotmat": rotmat.numpy(), "betas": betas.numpy(), "t_full": t_full.numpy(),
            "vertices": out.vertices.numpy(), "joints": out.joints.numpy(), "faces": body.faces}


def test_cli_matches_the_releases(files, reference):
    """The command runs end to end (render and mesh export with the SMPL-X mesh included) and
    its npz holds the releases' numbers: 22 rotations (as 66 axis-angle values), 11 betas, the
    full-frame translation, the 127 SMPL-X joints and HumanFoV's focal, within 1e-4."""
    from cliff.cli import main
    out = os.path.join(files["dir"], "out")
    rc = main(["predict", os.path.join(DATA, "cameraman.jpg"), "--ckpt", files["ckpt"],
               "--smplx", files["body"], "--focal", "learned", "--fov-ckpt", files["fov"],
               "--boxes", files["boxes"], "--render", "--save-mesh", "obj", "-o", out, "--quiet"])
    assert rc == 0
    (npz,) = [f for f in os.listdir(out) if f.endswith(".npz")]
    r = np.load(os.path.join(out, npz))
    n = len(BOXES)
    assert r["pose"].shape == (n, 66) and r["shape"].shape == (n, 11)
    assert r["pred_joints"].shape == (n, 127, 3)
    np.testing.assert_allclose(r["focal_l"], reference["focal"], rtol=TOL)
    np.testing.assert_allclose(r["focal_learned"], [reference["focal"]], rtol=TOL)
    rot = cliff.axis_angle_to_rotmat(r["pose"].reshape(n, 22, 3))
    np.testing.assert_allclose(rot, reference["rotmat"], atol=TOL)
    np.testing.assert_allclose(r["shape"], reference["betas"], atol=TOL)
    np.testing.assert_allclose(r["global_t"], reference["t_full"], atol=TOL, rtol=TOL)
    np.testing.assert_allclose(r["pred_joints"], reference["joints"], atol=TOL, rtol=TOL)
    meshes = sorted(os.listdir(os.path.join(out, "meshes")))
    assert len(meshes) == n
    with open(os.path.join(out, "meshes", meshes[0])) as fh:
        assert sum(line.startswith("v ") for line in fh) == 10475
    assert any(f.endswith("_front.jpg") for f in os.listdir(os.path.join(out, "render")))


def test_estimator_matches_the_releases(files, reference):
    """cliff.Estimator with an SMPL-X body: rotations, betas, t_full, vertices, joints."""
    img = cliff.read_image(os.path.join(DATA, "cameraman.jpg"))
    with cliff.Estimator(files["ckpt"], None, smplx=files["body"], focal="learned",
                         fov_ckpt=files["fov"]) as est:
        res = est.run(img, BOXES)
    assert res["rotmat"].shape == (2, 22, 3, 3) and res["vertices"].shape == (2, 10475, 3)
    np.testing.assert_allclose(res["focal"], reference["focal"], rtol=TOL)
    np.testing.assert_allclose(res["rotmat"], reference["rotmat"], atol=TOL)
    np.testing.assert_allclose(res["betas"], reference["betas"], atol=TOL)
    np.testing.assert_allclose(res["t_full"], reference["t_full"], atol=TOL, rtol=TOL)
    np.testing.assert_allclose(res["vertices"], reference["vertices"], atol=TOL, rtol=TOL)
    np.testing.assert_allclose(res["joints"], reference["joints"], atol=TOL, rtol=TOL)
    np.testing.assert_array_equal(est.faces, reference["faces"])


def test_an_smplx_checkpoint_with_an_smpl_body_is_refused(files, standin_res50):
    with pytest.raises(ValueError, match="SMPL-X"):
        cliff.Estimator(files["ckpt"], standin_res50[1])
