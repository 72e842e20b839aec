"""`cliff predict clip.mp4 --track --smooth --render --export` and `cliff export`, end to end on
a synthetic clip of stand-in people walking in and out of view (cliff.motion.synthetic), with
boxes from the known bodies (noise, drops, low scores). The networks run on stand-in weights,
so the bodies are meaningless; identities, files, frame rates and shapes are what is checked.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import cliff
from cliff.cli import main
from cliff.motion.metrics import id_errors
from cliff.motion.synthetic import write_walkers_video

pygltflib = pytest.importorskip("pygltflib")
bvh = pytest.importorskip("bvh")
iio = pytest.importorskip("imageio.v3")

FRAMES, FPS = 16, 8.0


@pytest.fixture(scope="module")
def run(tmp_path_factory, standin_res50):
    base = tmp_path_factory.mktemp("motion_cli")
    ckpt, smpl, _ = standin_res50
    clip = write_walkers_video(base / "in", cliff.SMPL(smpl), name="walk.mp4", frames=FRAMES,
                               people=2, size=(192, 144), fps=FPS, seed=3)
    out = base / "out"
    rc = main(["predict", clip["video"], "--boxes", clip["boxes"], "--ckpt", ckpt, "--smpl", smpl,
               "--track", "--smooth", "savgol", "--render", "--side", "--export", "glb",
               "--export", "bvh", "--save-mesh", "obj", "-o", str(out), "--quiet"])
    assert rc == 0
    return {"clip": clip, "out": out, "ckpt": ckpt, "smpl": smpl,
            "npz": out / "walk_cliff_res50.npz"}


def test_npz_has_the_official_keys_plus_frame_and_track_id(run):
    z = np.load(run["npz"])
    n = len(z["shape"])
    assert {"imgname", "pose", "shape", "global_t", "pred_joints", "focal_l", "detection_all"} <= set(z.files)
    assert z["frame"].shape == (n,) and z["track_id"].shape == (n,) and n > 0
    assert z["imgname"].shape == (FRAMES,) and float(z["fps"]) == FPS
    np.testing.assert_array_equal(z["frame"], z["detection_all"][:, 0].astype(int))  # one video


def test_every_person_keeps_one_track_id(run):
    """Rows are matched back to the detector's boxes; the tracker's ids against the truth."""
    z = np.load(run["npz"])
    boxes = json.load(open(run["clip"]["boxes"]))
    gt, pred = [], []
    for f in range(FRAMES):
        rows = np.asarray(boxes[f"walk.mp4:{f:06d}"], np.float32).reshape(-1, 5)
        sel = np.nonzero(z["frame"] == f)[0]
        g, p = [], []
        for r in sel:
            k = int(np.argmin(np.abs(rows[:, :4] - z["detection_all"][r, 1:5]).sum(1)))
            g.append(run["clip"]["gt_ids"][f][k])
            p.append(z["track_id"][r])
        gt.append(np.array(g, np.int64))
        pred.append(np.array(p, np.int64))
    e = id_errors(gt, pred)
    assert e["people"] == 2 and e["id_switches"] == 0 and e["fragmentations"] == 0 and e["merged"] == 0


def test_smoothed_tracks_have_one_shape_each(run):
    z = np.load(run["npz"])
    for k in np.unique(z["track_id"]):
        b = z["shape"][z["track_id"] == k]
        np.testing.assert_array_equal(b, np.broadcast_to(b[0], b.shape))


def test_pred_joints_are_the_smoothed_bodies(run):
    z = np.load(run["npz"])
    body = cliff.SMPL(run["smpl"])(pose=z["pose"], betas=z["shape"], transl=z["global_t"], vertices=False)
    np.testing.assert_allclose(z["pred_joints"], body["joints"], atol=1e-5)


@pytest.mark.parametrize("view", ["front", "side"])
def test_overlay_videos_have_every_frame_at_the_input_rate(run, view):
    path = run["out"] / f"walk_{view}.mp4"
    frames = iio.imread(path)
    assert frames.shape == (FRAMES, 144, 192, 3)
    assert iio.immeta(path, plugin="FFMPEG")["fps"] == pytest.approx(FPS)


def test_front_overlay_draws_the_bodies_over_the_video(run):
    src = iio.imread(run["clip"]["video"]).astype(int)
    front = iio.imread(run["out"] / "walk_front.mp4").astype(int)
    z = np.load(run["npz"])
    busy = np.bincount(z["frame"], minlength=FRAMES)
    f = int(np.argmax(busy))
    changed = (np.abs(front[f] - src[f]).max(-1) > 40).mean()    # codec noise stays below 40
    assert changed > 0.01


def test_one_animation_file_per_track(run):
    z = np.load(run["npz"])
    for k in np.unique(z["track_id"]):
        g = pygltflib.GLTF2().load(str(run["out"] / f"walk_cliff_res50_track{k}.glb"))
        assert len(g.skins) == 1 and len(g.animations) == 1
        with open(run["out"] / f"walk_cliff_res50_track{k}.bvh") as fh:
            m = bvh.Bvh(fh.read())
        f = z["frame"][z["track_id"] == k]
        assert m.nframes == f.max() - f.min() + 1
        assert float(m.frame_time) == pytest.approx(1 / FPS)


def test_video_frames_without_boxes_get_no_bodies(run):
    """Frames whose key is missing from the boxes file have nobody (not another frame's boxes)."""
    boxes = json.load(open(run["clip"]["boxes"]))
    empty = [f for f in range(FRAMES) if not boxes[f"walk.mp4:{f:06d}"]]
    assert empty and not np.isin(np.load(run["npz"])["frame"], empty).any()


def test_save_mesh_writes_one_mesh_per_body_named_by_track(run):
    z = np.load(run["npz"])
    meshes = sorted(p.name for p in (run["out"] / "meshes").glob("*.obj"))
    assert len(meshes) == len(z["track_id"])
    assert f"walk.mp4_{int(z['frame'][-1]):06d}_track{int(z['track_id'][-1])}.obj" in meshes


def test_cliff_export_writes_the_same_bvh_as_predict(run, tmp_path):
    rc = main(["export", str(run["npz"]), "--format", "bvh", "--smpl", run["smpl"], "-o", str(tmp_path)])
    assert rc == 0
    for p in tmp_path.glob("*.bvh"):
        assert p.read_text() == (run["out"] / p.name).read_text()


def test_cliff_export_scene_glb(run, tmp_path):
    rc = main(["export", str(run["npz"]), "--format", "glb", "--per", "scene", "--smpl", run["smpl"],
               "-o", str(tmp_path)])
    assert rc == 0
    g = pygltflib.GLTF2().load(str(tmp_path / "walk_cliff_res50.glb"))
    assert len(g.skins) == len(np.unique(np.load(run["npz"])["track_id"]))


def test_cliff_export_of_untracked_results_is_a_one_line_error(run, tmp_path, capsys):
    z = dict(np.load(run["npz"]))
    del z["track_id"]
    np.savez(tmp_path / "plain.npz", **z)
    assert main(["export", str(tmp_path / "plain.npz"), "--format", "glb", "--smpl", run["smpl"]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "track_id" in err[0]


def test_cliff_export_of_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.npz"), "--format", "bvh"]) == 2
    assert "nope.npz" in capsys.readouterr().err


def test_image_folder_is_one_tracked_sequence(run, tmp_path):
    """An ordered folder of frames is tracked like a video: frame = position in name order,
    one id per person, overlays as images."""
    frames = iio.imread(run["clip"]["video"])
    boxes = json.load(open(run["clip"]["boxes"]))
    folder = tmp_path / "imgs"
    folder.mkdir()
    sub, people = {}, set()
    for k, f in enumerate(range(8, 13)):
        iio.imwrite(folder / f"img{k:03d}.png", frames[f])
        sub[f"img{k:03d}.png"] = boxes[f"walk.mp4:{f:06d}"]
        people |= set(run["clip"]["gt_ids"][f].tolist())
    (tmp_path / "b.json").write_text(json.dumps(sub))
    rc = main(["predict", str(folder), "--boxes", str(tmp_path / "b.json"), "--ckpt", run["ckpt"],
               "--smpl", run["smpl"], "--track", "--render", "-o", str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    z = np.load(tmp_path / "o" / "imgs_cliff_res50.npz")
    assert set(z["frame"].tolist()) <= set(range(5)) and z["frame"].max() == 4
    assert len(np.unique(z["track_id"])) == len(people)
    assert (tmp_path / "o" / "render" / "img000_front.jpg").exists()
    # --track without --smooth: the bodies as estimated (shape still varies along a track)
    assert any(len(np.unique(z["shape"][z["track_id"] == k], axis=0)) > 1 for k in np.unique(z["track_id"]))


def test_export_glb_of_one_image_is_its_posed_meshes(run, tmp_path):
    frame = iio.imread(run["clip"]["video"])[10]
    iio.imwrite(tmp_path / "one.png", frame)
    boxes = json.load(open(run["clip"]["boxes"]))
    (tmp_path / "b.json").write_text(json.dumps({"one.png": boxes["walk.mp4:000010"]}))
    rc = main(["predict", str(tmp_path / "one.png"), "--boxes", str(tmp_path / "b.json"), "--ckpt",
               run["ckpt"], "--smpl", run["smpl"], "--export", "glb", "-o", str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    z = np.load(tmp_path / "o" / "one_cliff_res50.npz")
    g = pygltflib.GLTF2().load(str(tmp_path / "o" / "one_cliff_res50.glb"))
    assert not g.skins and len(g.meshes) == len(z["shape"]) > 0
    blob = g.binary_blob()
    a = g.accessors[g.meshes[0].primitives[0].attributes.POSITION]
    v = g.bufferViews[a.bufferView]
    pos = np.frombuffer(blob, np.float32, a.count * 3, v.byteOffset).reshape(-1, 3)
    want = cliff.SMPL(run["smpl"])(pose=z["pose"][:1], betas=z["shape"][:1], transl=z["global_t"][:1])["vertices"][0]
    np.testing.assert_allclose(pos, want * [1, -1, -1], atol=1e-5)   # camera -> glTF axes
