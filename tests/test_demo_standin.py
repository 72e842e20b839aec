"""`cliff demo` without the licensed files: the stand-in body fitted to the bundled MediaPipe
keypoints, every output marked as a stand-in (npz flag, STANDIN.txt, caption, closing line).

The demo runs once per module (res50 stand-ins in a session cache folder, ~3 s)."""
import json
import os

import numpy as np
import pytest

import cliff
from cliff.cli import main
from cliff.cli.demo_fit import KEYPOINTS, caption
from cliff.annotate.keypoints import COCO17_NAMES, load_keypoint_file

PHOTOS = ("astronaut.jpg", "cameraman.jpg", "grace_hopper.jpg")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(output folder, stdout, stderr, stand-in SMPL path) of one `cliff demo` run on stand-in
    files."""
    out = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("cache")
    mp.setenv("XDG_CACHE_HOME", str(cache))
    mp.delenv("CLIFF_HOME", raising=False)
    import contextlib
    import io
    o, e = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            rc = main(["demo", "--backbone", "res50", "-o", str(out), "--quiet"])
    finally:
        mp.undo()
    assert rc == 0, e.getvalue()
    smpl = next(cache.glob("cliff/standin-*/standin-SMPL_NEUTRAL.pkl"))
    return out, o.getvalue(), e.getvalue(), str(smpl)


def test_bundled_keypoints_are_coco17_for_every_photo():
    # made by tools/make_demo_keypoints.py (MediaPipe Pose): one person per photo, 17 keypoints
    rows = load_keypoint_file(KEYPOINTS)
    assert [r[0] for r in rows] == list(PHOTOS)
    for name, kp, _ in rows:
        assert kp.shape == (1, 17, 3)
        assert ((kp[..., 2] >= 0) & (kp[..., 2] <= 1)).all()
        # both shoulders clearly seen and inside the 512-pixel-wide photo
        sh = kp[0, [COCO17_NAMES.index("left_shoulder"), COCO17_NAMES.index("right_shoulder")]]
        assert (sh[:, 2] > 0.9).all() and (sh[:, :2] > 0).all() and (sh[:, 0] < 512).all(), name


def test_bundled_keypoints_say_which_detector_made_them():
    info = json.load(open(KEYPOINTS))["info"]
    assert "MediaPipe Pose" in info["detector"] and info["made_by"] == "tools/make_demo_keypoints.py"


def test_demo_npz_files_carry_the_standin_flag(demo):
    out, *_ = demo
    for name in ("demo.npz", "fitted.npz"):
        z = np.load(out / name)
        assert z["standin"].dtype == np.bool_ and bool(z["standin"]) is True, name


def test_demo_writes_the_standin_note(demo):
    out, *_ = demo
    text = (out / "STANDIN.txt").read_text()
    assert "STAND-IN" in text and "random" in text and "CLIFF_HOME" in text


def test_demo_closing_line_says_standin(demo):
    _, stdout, *_ = demo
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("cliff demo:") and "STAND-IN" in last


def test_fitted_bodies_reproject_onto_the_keypoints(demo):
    # error = confidence-weighted mean distance (pixels) between the fitted body's joints and
    # the keypoints used: the fit starts from an upright body placed at the shoulders and must
    # both improve on that start and end within a few pixels
    out, *_ = demo
    z = np.load(out / "fitted.npz")
    assert z["imgname"].tolist() == list(PHOTOS)
    assert (z["fit_err"] < z["fit_err_init"]).all()
    assert (z["fit_err"] < 5.0).all(), z["fit_err"]


def test_fitted_bodies_cover_the_people(demo):
    # the fitted meshes, projected with the demo's camera (focal = image diagonal, principal
    # point = image centre), reach the limb keypoints used (conf >= 0.5): at least 80% lie
    # within 15 pixels of a projected vertex (the blob has no separate arms, so a raised wrist
    # can stick out of its surface: the cameraman's right wrist is ~40 px off), and the mesh's
    # image box contains both shoulders
    out, _, _, smpl_path = demo
    z = np.load(out / "fitted.npz")
    v = cliff.SMPL(smpl_path)(pose=z["pose"], betas=z["shape"], transl=z["global_t"])["vertices"]
    for i, (name, kp, _) in enumerate(load_keypoint_file(KEYPOINTS)):
        H, W = cliff.io.images.read_image(os.path.join(os.path.dirname(KEYPOINTS), name)).shape[:2]
        uv = z["focal_l"][i] * v[i, :, :2] / v[i, :, 2:] + [W / 2, H / 2]
        used = kp[0, 5:][kp[0, 5:, 2] >= 0.5, :2]
        d = np.linalg.norm(uv[None] - used[:, None], axis=-1).min(1)
        assert (d < 15).mean() >= 0.8, (name, d)
        lo, hi = uv.min(0), uv.max(0)
        assert ((kp[0, 5:7, :2] > lo) & (kp[0, 5:7, :2] < hi)).all(), name


def test_every_standin_render_has_a_caption(demo):
    # the caption strip: the top 14 rows are mostly black with some text pixels
    out, *_ = demo
    pics = list((out / "render").glob("*.jpg")) + list((out / "fitted").glob("*.jpg"))
    assert len(pics) == 9
    for p in pics:
        top = cliff.io.images.read_image(p)[:14].astype(int)
        assert (top.max(-1) < 60).mean() > 0.7 and (top.max(-1) > 150).any(), p.name


def test_caption_draws_a_strip_and_leaves_the_rest():
    img = np.full((40, 120, 3), 200, np.uint8)
    out = caption(img, "stand-in body")
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[14:] == 200).all() and (out[:14] != 200).any()
    assert (img == 200).all()  # the input is not modified
