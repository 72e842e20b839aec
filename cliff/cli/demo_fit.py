"""`cliff demo` without the licensed files: fit the stand-in body to real 2D keypoints.

The stand-in network has random weights, so its bodies say nothing about the photos. The
annotator (cliff.annotate) is real, though: ``cliff/data/keypoints.json`` holds COCO-17
keypoints of the bundled photos produced once by MediaPipe Pose (tools/make_demo_keypoints.py),
and this module fits the stand-in body to them with the full-frame camera
(cliff.annotate.refine, loss='full'), starting from a rest-pose body placed at the shoulders
(the random-weight network's estimate is no start), so the rendered bodies follow the people.
Everything written here is marked as a stand-in: ``standin`` in the npz, ``STANDIN.txt`` in the
folder and a caption on every picture.
"""
from __future__ import annotations

import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
KEYPOINTS = os.path.join(DATA, "keypoints.json")
CAPTION = "stand-in body (random weights, blob mesh) fitted to MediaPipe keypoints"
NOTE = """These results were made with STAND-IN files, not with CLIFF or SMPL.

The network weights are random and the body model is a procedural blob with SMPL's structure
(cliff/_standin.py); the licensed CLIFF checkpoints and SMPL_NEUTRAL.pkl were not found.

* demo.npz, meshes/, render/: the stand-in network's raw estimate (meaningless).
* fitted.npz, fitted/: the stand-in body fitted by cliff's annotator (cliff.annotate.refine,
  full-frame camera) to 2D keypoints that MediaPipe Pose found in the photos
  (cliff/data/keypoints.json, made by tools/make_demo_keypoints.py). The bodies follow the
  people, but their shapes are a blob's, not SMPL's.

Every npz here has standin=True. For real results pass --ckpt/--smpl or set CLIFF_HOME (README).
"""


def caption(rgb: np.ndarray, text: str = "stand-in body") -> np.ndarray:
    """A copy of an (H, W, 3) uint8 RGB image with `text` in a dark strip along the top (about
    14 pixel rows, Pillow's default font)."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(np.ascontiguousarray(rgb, np.uint8))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, im.width, 13], fill=(0, 0, 0))
    d.text((3, 1), text, fill=(255, 255, 0))
    return np.asarray(im)


def write_note(folder: str) -> str:
    path = os.path.join(folder, "STANDIN.txt")
    with open(path, "w") as f:
        f.write(NOTE)
    return path


# The blob (cliff._standin.smpl_arrays) has SMPL's joints at human-like places, but the vertices
# behind the face joints 24-28 are wherever SMPL's vertex indices fall on a sphere: the five
# COCO face keypoints are not used; the 12 limb keypoints (SMPL joints) are.
MIN_CONF = 0.5  # keypoints MediaPipe sees with lower visibility are guesses (legs out of frame)
SHOULDER_WIDTH = 0.34  # metres between the stand-in body's shoulder joints (cliff/_standin.py)
TORSO_LENGTH = 0.46    # metres from its hip joints' midpoint up to its shoulders' midpoint


def initial_estimate(kp: np.ndarray, boxes: np.ndarray, focal: float, size) -> tuple:
    """Start of the fit for n people: the rest pose standing upright facing the camera, zero
    betas, and the translation (metres) that puts the shoulders' midpoint on the keypoints'
    shoulders at the depth where the body's shoulder width (0.34 m) or torso length (0.46 m),
    whichever looks larger, matches theirs in pixels; without both shoulders, the box centre at
    1.7 m per box height.
    (The random-weight network's estimate is no start: the fit diverges from it.)"""
    n = len(kp)
    rot = np.tile(np.eye(3), (n, 24, 1, 1))
    rot[:, 0] = np.diag([1.0, -1.0, -1.0])  # SMPL's y-up, +z-facing body upright, facing us
    betas = np.zeros((n, 10))
    pp = np.asarray(size, np.float64) / 2
    t = np.zeros((n, 3))
    for i in range(n):
        ls, rs = kp[i, 5], kp[i, 6]  # COCO-17 left/right shoulder
        if min(ls[2], rs[2]) > 0.3 and np.linalg.norm(ls[:2] - rs[:2]) > 2:
            z = focal * SHOULDER_WIDTH / np.linalg.norm(ls[:2] - rs[:2])
            lh, rh = kp[i, 11], kp[i, 12]  # hips: a person seen side-on has narrow shoulders
            if min(lh[2], rh[2]) > 0.3:
                torso = np.linalg.norm((ls[:2] + rs[:2] - lh[:2] - rh[:2]) / 2)
                z = min(z, focal * TORSO_LENGTH / max(torso, 1.0))
            c = (ls[:2] + rs[:2]) / 2
            y_body = 0.38  # shoulder height above the pelvis (metres, stand-in body)
        else:
            z = focal * 1.7 / max(boxes[i, 3] - boxes[i, 1], 1.0)
            c = (boxes[i, :2] + boxes[i, 2:]) / 2
            y_body = 0.0
        t[i, :2] = (c - pp) * z / focal
        t[i, 1] += y_body  # the camera's y points down: the pelvis lies below the shoulders
        t[i, 2] = z
    return rot, betas, t


def fit_demo(smpl_path: str, photos: list[str], folder: str,
             keypoints_path: str = KEYPOINTS) -> dict:
    """Fit the stand-in body to the bundled keypoints and render it.

    Each fit starts from :func:`initial_estimate` and runs cliff.annotate.refine with the
    full-frame camera (focal = image diagonal, principal point = image centre).
    Writes ``fitted.npz`` (pose (N,72), shape (N,10), global_t (N,3), focal_l (N,),
    fit_err_init / fit_err (N,) mean reprojection error in pixels before / after the fit,
    imgname, standin=True) and ``fitted/<stem>_fitted.jpg`` with a caption. Returns the arrays.
    """
    from ..annotate import FitBody, refine
    from ..annotate.annotator import clean_keypoints
    from ..annotate.keypoints import boxes_from_keypoints, load_keypoint_file
    from ..camera import estimate_focal_length
    from ..io.images import read_image
    from ..render import render, save_image
    from ..smpl import SMPL

    smpl = SMPL(smpl_path)
    body = FitBody.from_smpl(smpl)
    by_name = {name: kp for name, kp, _ in load_keypoint_file(keypoints_path)}
    os.makedirs(os.path.join(folder, "fitted"), exist_ok=True)
    rows: dict[str, list] = {k: [] for k in ("imgname", "pose", "shape", "global_t", "focal_l",
                                             "fit_err_init", "fit_err")}
    for path in photos:
        name = os.path.basename(path)
        if name not in by_name:
            continue
        image = read_image(path)
        H, W = image.shape[:2]
        kp, _ = clean_keypoints(by_name[name], (W, H))
        kp[..., 2] = np.where(kp[..., 2] < MIN_CONF, 0.0, kp[..., 2])  # drop guessed, unseen joints
        kp[:, :5, 2] = 0.0  # the blob's vertex joints (nose, eyes, ears) are not on a face
        boxes = boxes_from_keypoints(kp, min_conf=0.3)
        f = float(estimate_focal_length(W, H))
        rot, betas, t = initial_estimate(kp, boxes, f, (W, H))
        # plain least squares: the unreliable keypoints are already out; the start is a body
        # placed at the shoulders, not a regressor's estimate, so the guard has no reason to
        # trust it first (tighten=None: no tightened first pass, docs/annotate.md round 16)
        out = refine(body, rot, betas, t, kp, boxes, (W, H), f, loss="full", max_iter=100,
                     robust=None, tighten=None)
        ok = out["status"] == 0
        verts = smpl(rotmat=out["rotmat"][ok], betas=out["betas"][ok],
                     transl=out["transl"][ok])["vertices"]
        pic = render(image, verts, smpl.faces, f) if ok.any() else image
        stem = os.path.splitext(name)[0]
        save_image(os.path.join(folder, "fitted", f"{stem}_fitted.jpg"), caption(pic, CAPTION))
        from ..camera import rotmat_to_axis_angle
        rows["imgname"] += [name] * int(ok.sum())
        rows["pose"].append(rotmat_to_axis_angle(out["rotmat"][ok]).reshape(-1, 72))
        rows["shape"].append(out["betas"][ok, :10])
        rows["global_t"].append(out["transl"][ok])
        rows["focal_l"].append(np.full(int(ok.sum()), f))
        rows["fit_err_init"].append(out["err_init"][ok])
        rows["fit_err"].append(out["err_final"][ok])
    res = {k: (np.asarray(v, str) if k == "imgname" else
               np.concatenate(v).astype(np.float32) if v else np.zeros(0, np.float32))
           for k, v in rows.items()}
    res["standin"] = np.bool_(True)
    np.savez(os.path.join(folder, "fitted.npz"), **res)
    return res
