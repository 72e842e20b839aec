"""The `cliff` command line: outputs in the official layout, one-line errors, skipping bad inputs.

Runs in-process through cliff.cli.main (the console entry point calls the same function) with
stand-in files in a session folder (XDG_CACHE_HOME), Res50 for speed.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cliff
from cliff.cli import main

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")
PHOTO = os.path.join(DATA, "astronaut.jpg")
BOXES = os.path.join(DATA, "boxes.json")
BOX = [48.9, 19.1, 329.2, 425.1]  # the person in astronaut.jpg (boxes.json)


@pytest.fixture(scope="session")
def standin(standin_res50):
    """Stand-in checkpoint + SMPL made once (what `cliff demo` would make in ~/.cache)."""
    return standin_res50


def predict(standin, *args):
    ckpt, smpl, _ = standin
    return main(["predict", *args, "--ckpt", ckpt, "--smpl", smpl, "--quiet"])


# ---- outputs: the official npz, meshes, renders ------------------------------------------

def test_predict_writes_the_official_npz_layout(standin, tmp_path):
    assert predict(standin, PHOTO, "--boxes", BOXES, "-o", str(tmp_path)) == 0
    path = tmp_path / "astronaut_cliff_res50.npz"  # official naming: <input>_cliff_<backbone>.npz
    z = np.load(path)
    assert sorted(z.files) == sorted(["imgname", "pose", "shape", "global_t", "pred_joints",
                                      "focal_l", "detection_all"])
    assert z["imgname"].tolist() == [PHOTO]
    expect = {"pose": (1, 72), "shape": (1, 10), "global_t": (1, 3), "pred_joints": (1, 45, 3),
              "focal_l": (1,), "detection_all": (1, 8)}
    for k, s in expect.items():
        assert z[k].shape == s and z[k].dtype == np.float32, k
    np.testing.assert_allclose(z["focal_l"], np.hypot(512, 512), rtol=1e-6)
    np.testing.assert_allclose(z["detection_all"][0, 1:5], [48.9, 19.1, 329.2, 425.1], atol=1e-4)


def test_predict_matches_the_python_api(standin, tmp_path):
    """The CLI is the Estimator plus file writing: same pose for the same input."""
    ckpt, smpl, _ = standin
    predict(standin, PHOTO, "--boxes", BOXES, "-o", str(tmp_path / "r.npz"))
    z = np.load(tmp_path / "r.npz")
    with cliff.Estimator(ckpt, smpl) as est:
        out = est.run(cliff.read_image(PHOTO), xyxy=[[48.9, 19.1, 329.2, 425.1]])
    np.testing.assert_allclose(z["pose"], out["pose"], atol=1e-6)
    np.testing.assert_allclose(z["pred_joints"], out["joints"], atol=1e-6)


def test_rotmat_format_meshes_and_renders(standin, tmp_path):
    assert predict(standin, PHOTO, "--boxes", BOXES, "--pose-format", "rotmat",
                   "--save-mesh", "ply", "--render", "-o", str(tmp_path)) == 0
    z = np.load(tmp_path / "astronaut_cliff_res50.npz")
    assert z["pose"].shape == (1, 24, 3, 3)
    assert (tmp_path / "meshes" / "astronaut_0.ply").stat().st_size > 6890 * 12
    from PIL import Image
    front = np.asarray(Image.open(tmp_path / "render" / "astronaut_front.jpg"))
    assert front.shape == (512, 512, 3)
    assert os.path.exists(tmp_path / "render" / "astronaut_side.jpg")


def test_render_uses_the_given_intrinsics(standin, tmp_path):
    """With --intrinsics (off-centre principal point, fx != fy) the overlay is drawn with that
    camera, not with (fx+fy)/2 and the image centre (which misplaces the body)."""
    ckpt, smpl, _ = standin
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"astronaut.jpg": [BOX]}))
    K = (700.0, 560.0, 150.0, 330.0)
    out = tmp_path / "out"
    assert main(["predict", PHOTO, "--ckpt", ckpt, "--smpl", smpl, "--boxes", str(boxes),
                 "--intrinsics", ",".join(map(str, K)), "--render", "-o", str(out), "--quiet"]) == 0
    got = cliff.read_image(out / "render" / "astronaut_front.jpg").astype(np.int16)

    image = cliff.read_image(PHOTO)
    with cliff.Estimator(ckpt, smpl) as est:
        res = est.run(image, [BOX], K=K)
    right = cliff.render(image, res["vertices"], est.faces, K[:2], K[2:]).astype(np.int16)
    wrong = cliff.render(image, res["vertices"], est.faces, float(res["focal"][0])).astype(np.int16)
    assert np.abs(wrong - right).mean() > 5  # the two cameras really differ on this image
    assert np.abs(got - right).mean() < 2    # JPEG noise only


def test_inputs_with_the_same_file_name_get_distinct_meshes_and_renders(standin, tmp_path):
    """a/img.jpg and b/img.jpg: the second gets an '-2' suffix instead of overwriting the first's
    meshes/img_0.obj and render/img_*.jpg."""
    for d in ("a", "b"):
        os.makedirs(tmp_path / d)
        shutil.copy(PHOTO, tmp_path / d / "img.jpg")
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"img.jpg": [BOX]}))
    out = tmp_path / "out"
    assert predict(standin, str(tmp_path / "a" / "img.jpg"), str(tmp_path / "b" / "img.jpg"),
                   "--boxes", str(boxes), "--save-mesh", "obj", "--render", "-o", str(out)) == 0
    assert sorted(os.listdir(out / "meshes")) == ["img-2_0.obj", "img_0.obj"]
    assert sorted(os.listdir(out / "render")) == ["img-2_front.jpg", "img-2_side.jpg",
                                                  "img_front.jpg", "img_side.jpg"]


# ---- -o/--output ---------------------------------------------------------------------------

def test_output_that_is_an_existing_file_is_a_one_line_error(standin, tmp_path, capsys):
    """-o naming an existing regular file: status 2, one error line, the file untouched."""
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert predict(standin, PHOTO, "--boxes", BOXES, "-o", str(target)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cliff: error: -o/--output:") and "existing file" in err[-1]
    assert target.read_text() == "keep me"


def test_output_npz_name_that_is_a_folder_writes_inside_and_leaves_no_temp(standin, tmp_path):
    """`-o runs.npz` where runs.npz is a folder is used as the folder (no runs.npz.tmp.npz)."""
    folder = tmp_path / "runs.npz"
    folder.mkdir()
    assert predict(standin, PHOTO, "--boxes", BOXES, "-o", str(folder)) == 0
    assert os.listdir(tmp_path) == ["runs.npz"]
    assert os.listdir(folder) == ["astronaut_cliff_res50.npz"]


# ---- inputs: folders, videos, unreadable files ---------------------------------------------

def test_folder_with_a_corrupt_image_is_processed_and_reported(standin, tmp_path, capsys):
    src = tmp_path / "imgs"
    src.mkdir()
    shutil.copy(PHOTO, src / "a.jpg")
    (src / "b.jpg").write_bytes(b"\xff\xd8\xff this is not a jpeg")
    shutil.copy(os.path.join(DATA, "cameraman.jpg"), src / "c.jpg")
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"a.jpg": [[48.9, 19.1, 329.2, 425.1]], "c.jpg": [[16, 44, 443, 491]]}')
    rc = predict(standin, str(src), "--boxes", str(boxes), "-o", str(tmp_path / "out"))
    assert rc == 1  # partial failure is reported in the exit status
    err = capsys.readouterr().err
    assert "skipped" in err and "b.jpg" in err and "Traceback" not in err
    z = np.load(tmp_path / "out" / "imgs_cliff_res50.npz")
    assert [os.path.basename(n) for n in z["imgname"]] == ["a.jpg", "c.jpg"]
    assert z["detection_all"][:, 0].tolist() == [0.0, 1.0]


def test_video_frames_are_streamed(standin, tmp_path):
    import imageio.v3 as iio

    frame = cliff.read_image(PHOTO)
    video = tmp_path / "clip.mp4"
    iio.imwrite(video, np.stack([frame] * 3), fps=5, codec="libx264")
    boxes = tmp_path / "b.json"
    boxes.write_text('{' + ",".join(f'"clip.mp4:{i:06d}": [[48.9, 19.1, 329.2, 425.1]]' for i in range(3)) + '}')
    assert predict(standin, str(video), "--boxes", str(boxes), "-o", str(tmp_path)) == 0
    z = np.load(tmp_path / "clip_cliff_res50.npz")
    assert [n.rsplit(":", 1)[1] for n in z["imgname"]] == ["000000", "000001", "000002"]
    assert z["pose"].shape == (3, 72)


def test_undecodable_video_is_reported_in_one_line(standin, tmp_path, capsys):
    """ffmpeg's multi-line error (banner, build configuration) is cut to one 'skipped' line per
    video; with one readable input left the status is 1."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"not a video at all\n" * 10)
    (folder / "empty.mp4").write_bytes(b"")
    shutil.copy(PHOTO, folder / "astronaut.jpg")
    assert predict(standin, str(folder), "--boxes", BOXES, "-o", str(tmp_path / "out")) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 2, lines
    for ln, name in zip(lines, ("broken.mp4", "empty.mp4")):
        assert ln.startswith(f"cliff: skipped {folder / name}: could not decode the video"), ln


def test_single_unreadable_input_is_an_error_not_an_empty_result(standin, tmp_path, capsys):
    """README: an unreadable input is an error (status 2, no output); only inside a folder with
    readable files is it skipped (status 1)."""
    bad = tmp_path / "zero.jpg"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    assert predict(standin, str(bad), "--boxes", BOXES, "-o", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cliff: error: no readable image"), err
    assert not out.exists() or os.listdir(out) == []


# ---- errors and options ----------------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["predict", "/nonexistent.jpg", "-o", "OUT", "--ckpt", "CKPT", "--smpl", "SMPL"], "nonexistent.jpg"),
    (["predict", PHOTO, "-o", "OUT", "--ckpt", "/missing.pt", "--smpl", "SMPL"], "missing.pt"),
    (["predict", PHOTO, "-o", "OUT", "--ckpt", "GARBAGE", "--smpl", "SMPL"], "garbage.pt"),
    (["predict", PHOTO, "-o", "OUT"], "--ckpt"),
])
def test_errors_are_one_line_and_a_nonzero_status(standin, tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    sub = {"OUT": str(tmp_path / "o"), "CKPT": standin[0], "SMPL": standin[1], "GARBAGE": str(garbage)}
    rc = main([sub.get(a, a) for a in args] + ["--boxes", BOXES])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("cliff: error:") and needle in err[0], err


def test_without_boxes_or_detector_the_error_says_what_to_do(standin, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cliff.detect, "available", lambda: False)
    rc = predict(standin, PHOTO, "-o", str(tmp_path))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--boxes" in err[0] and "[detect]" in err[0] and "cliff clone" in err[0]


def test_negative_threads_is_an_argument_error(standin, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        predict(standin, PHOTO, "--boxes", BOXES, "-o", str(tmp_path), "--threads", "-1")
    assert e.value.code == 2
    assert "argument --threads" in capsys.readouterr().err


def test_no_detector_is_reported_before_the_model_load_with_the_options(standin, tmp_path, capsys,
                                                                        monkeypatch):
    """No boxes, no YOLOv3 weights, no MediaPipe: the error comes before the model is loaded (it
    used to come after the load, glued to the progress bar) and lists what to do."""
    ckpt, smpl, _ = standin
    monkeypatch.setattr("cliff.detect.available", lambda: False)
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    assert main(["predict", PHOTO, "--ckpt", ckpt, "--smpl", smpl, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    last = err.strip().split("\n")[-1].split("\r")[-1].strip()
    assert last.startswith("cliff: error: no person boxes"), repr(err[-300:])
    assert "loaded in" not in err
    for option in ("--boxes", "--detector-weights", "yolov3.weights", "mediapipe"):
        assert option.lower() in last.lower()


# ---- entry points ----------------------------------------------------------------------------

def test_console_entry_point_runs(standin):
    """`python -m cliff info` in a fresh process (the import path users take)."""
    out = subprocess.run([sys.executable, "-m", "cliff", "info"], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(cliff.__file__)))
    assert "onednn: 3." in out.stdout


def test_demo_runs_on_stand_ins_and_says_so(standin, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", standin[2])
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    assert main(["demo", "--backbone", "res50", "-o", str(tmp_path), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "STAND-IN" in captured.err
    z = np.load(tmp_path / "demo.npz")
    assert len(z["imgname"]) == 3 and z["pose"].shape == (3, 72)
    assert len(os.listdir(tmp_path / "render")) == 6 and len(os.listdir(tmp_path / "meshes")) == 3

