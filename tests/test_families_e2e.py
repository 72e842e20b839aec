"""End to end for the SMPL families (docs/models.md): cliff.Estimator and `cliff predict` on
BEDLAM's cliff.ckpt and mmhuman3d's CLIFF-Res50 (random weights in their exact file layouts)
give the rotations, betas, crop camera and full-frame translation of the release's PyTorch code
fed by the release's own crop, within 1e-4: BEDLAM's image_utils.crop with scikit-image's resize
(test_crop_skimage.release_crop), mmhuman3d's MeshAffine warp (test_crop_mmhuman3d.release_crop,
OpenCV 4.x's uint8 warpAffine); bbox_info from the release's own box (BEDLAM: the tracker's
square, b = 200 * scale; mmhuman3d: the side S = 1.2 max(w, h))."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import cliff
from cliff import families as F
from cliff._standin import save_family_file
from cliff.cli import main
from reference import torch_cliff as tc
from reference import torch_families as tf
from test_crop_bedlam import tracker_box
from test_crop_mmhuman3d import center_side
from test_crop_mmhuman3d import release_crop as mmhuman3d_crop
from test_crop_skimage import release_crop as bedlam_crop

pytestmark = pytest.mark.slow  # two released networks end to end, with their references

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")
PHOTO = os.path.join(DATA, "astronaut.jpg")
BOXES = os.path.join(DATA, "boxes.json")
BOX = [48.9, 19.1, 329.2, 425.1]  # the person in astronaut.jpg (boxes.json)
TOL = 1e-4


@pytest.fixture(scope="module", params=["bedlam-cliff", "mmhuman3d-res50"])
def release(request, tmp_path_factory, standin_res50):
    fam = F.family(request.param)
    path = str(tmp_path_factory.mktemp("rel") / ("cliff.ckpt" if fam.lightning else "cliff.pth"))
    save_family_file(path, fam.name, seed=21)
    return fam, path, tf.load_release(path, fam.lightning), standin_res50[1]


def _reference(fam, ref, img, xyxy, focal=None):
    """The release's steps: its own crop and box, bbox_info of its form, the network, its camera."""
    xyxy = np.asarray(xyxy, np.float64)
    if fam.crop_window == "square":  # BEDLAM: image_utils.crop + skimage resize, float64
        crops = np.stack([bedlam_crop(img, b) for b in xyxy]).astype(np.float32)
        cs = [tracker_box(b) for b in xyxy]
        boxes = np.array([[c[0], c[1], 200 * s] for c, s in cs], np.float32)
    else:  # mmhuman3d: MeshAffine + Normalize
        crops = np.stack([mmhuman3d_crop(img, b) for b in xyxy]).astype(np.float32)
        boxes = np.array([[c[0], c[1], s] for c, s in map(center_side, xyxy)], np.float32)
    h, w = img.shape[:2]
    size = np.array([w, h], np.float32)
    f = tc.default_focal(torch.tensor([[w, h]], dtype=torch.float64)) if focal is None else torch.tensor([focal])
    f = f.float().expand(len(xyxy))
    c = {"crops": crops}
    boxes = torch.from_numpy(boxes)
    if fam.bbox_info == "paper":
        info = tf.bbox_info_plain(boxes, size, f)
    else:
        info = tc.bbox_info(boxes, torch.from_numpy(size), f)
    with torch.no_grad():
        rotmat, betas, cam, _ = ref(torch.from_numpy(c["crops"]), info)
        t_full = (tf.cam_full_bedlam(cam, boxes, size, f) if fam.lightning
                  else tc.cam_crop2full(cam, boxes, torch.from_numpy(size), f))
    return {"rotmat": rotmat.numpy(), "betas": betas.numpy(), "cam_crop": cam.numpy(),
            "t_full": t_full.numpy(), "bbox_info": info.numpy()}


def test_estimator_matches_the_release(release):
    fam, path, ref, smpl = release
    img = cliff.read_image(PHOTO)
    xyxy = [BOX, [200.0, 100.0, 420.0, 500.0]]
    with cliff.Estimator(path, smpl) as est:
        assert est.model.family == fam and est.rescale == fam.box_rescale
        out = est.run(img, xyxy=xyxy)
    want = _reference(fam, ref, img, xyxy)
    for k in ("rotmat", "betas", "cam_crop", "t_full", "bbox_info"):
        np.testing.assert_allclose(out[k], want[k], rtol=TOL, atol=TOL, err_msg=k)
    assert out["vertices"].shape == (2, 6890, 3)


def test_cli_predict_runs_the_family(release, tmp_path):
    fam, path, ref, smpl = release
    assert main(["predict", PHOTO, "--boxes", BOXES, "--ckpt", path, "--smpl", smpl, "--quiet",
                 "-o", str(tmp_path)]) == 0
    z = np.load(tmp_path / f"astronaut_cliff_{fam.backbone}.npz")
    want = _reference(fam, ref, cliff.read_image(PHOTO), [BOX])
    np.testing.assert_allclose(z["global_t"], want["t_full"], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(z["shape"], want["betas"], atol=TOL)


def test_smplx_family_needs_an_smplx_body(tmp_path, standin_res50):
    path = tmp_path / "bedlam_cliff.ckpt"
    save_family_file(path, "bedlam-cliff-x", seed=1)
    with pytest.raises(ValueError, match=r"regresses an SMPL-X body.*smplx="):
        cliff.Estimator(str(path), standin_res50[1])
