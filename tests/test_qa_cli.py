"""QA regressions for the command line: -o edge cases, --threads, error/bar interleaving,
renders drawn with the user's intrinsics."""
import json
import os

import numpy as np
import pytest

import cliff
from cliff.cli import main

DATA = os.path.join(os.path.dirname(cliff.__file__), "data")
PHOTO = os.path.join(DATA, "astronaut.jpg")
BOX = [48.9, 19.1, 329.2, 425.1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cliff.files.standin_files("res50", str(tmp_path_factory.mktemp("standin")))


def predict(files, *args):
    ckpt, smpl = files
    return main(["predict", *args, "--ckpt", ckpt, "--smpl", smpl, "--boxes",
                 os.path.join(DATA, "boxes.json"), "--quiet"])


def test_output_that_is_an_existing_file_is_a_one_line_error(files, tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert predict(files, PHOTO, "-o", str(target)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cliff: error: -o/--output:") and "existing file" in err[-1]
    assert target.read_text() == "keep me"


def test_output_npz_name_that_is_a_folder_writes_inside_and_leaves_no_temp(files, tmp_path):
    # `-o runs.npz` where runs.npz is already a folder: treat it as the folder (it used to fail
    # on os.replace and leave runs.npz.tmp.npz behind)
    folder = tmp_path / "runs.npz"
    folder.mkdir()
    assert predict(files, PHOTO, "-o", str(folder)) == 0
    assert os.listdir(tmp_path) == ["runs.npz"]
    assert os.listdir(folder) == ["astronaut_cliff_res50.npz"]


def test_failed_npz_write_removes_its_temporary_file(tmp_path, monkeypatch):
    from cliff.io.results import ResultWriter

    w = ResultWriter(str(tmp_path / "r.npz"), str(tmp_path), np.zeros((1, 3), np.int32))
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        w.close()
    assert os.listdir(tmp_path) == []


def test_negative_threads_is_an_argument_error(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        predict(files, PHOTO, "-o", str(tmp_path), "--threads", "-1")
    assert e.value.code == 2
    assert "argument --threads" in capsys.readouterr().err


def test_no_detector_is_reported_before_the_model_load_with_the_options(files, tmp_path, capsys, monkeypatch):
    # no boxes, no YOLOv3 weights, no MediaPipe: the error comes before the model is loaded
    # (it used to come after the load, glued to the progress bar) and lists what to do
    ckpt, smpl = files
    monkeypatch.setattr("cliff.detect.available", lambda: False)
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    assert main(["predict", PHOTO, "--ckpt", ckpt, "--smpl", smpl, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    last = err.strip().split("\n")[-1].split("\r")[-1].strip()
    assert last.startswith("cliff: error: no person boxes"), repr(err[-300:])
    assert "loaded in" not in err
    for option in ("--boxes", "--detector-weights", "yolov3.weights", "mediapipe"):
        assert option.lower() in last.lower()


def test_render_uses_the_given_intrinsics(files, tmp_path):
    # With --intrinsics (off-centre principal point, fx != fy) the overlay must be drawn with
    # that camera: it used to use (fx+fy)/2 and the image centre, so the body was misplaced.
    ckpt, smpl = files
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


def test_inputs_with_the_same_file_name_do_not_overwrite_each_others_meshes(files, tmp_path):
    # a/img.jpg and b/img.jpg: the second used to overwrite meshes/img_0.obj and render/img_*.jpg
    for d in ("a", "b"):
        os.makedirs(tmp_path / d)
        with open(PHOTO, "rb") as src, open(tmp_path / d / "img.jpg", "wb") as dst:
            dst.write(src.read())
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"img.jpg": [BOX]}))
    ckpt, smpl = files
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "a" / "img.jpg"), str(tmp_path / "b" / "img.jpg"),
                 "--ckpt", ckpt, "--smpl", smpl, "--boxes", str(boxes), "--save-mesh", "obj",
                 "--render", "-o", str(out), "--quiet"]) == 0
    assert sorted(os.listdir(out / "meshes")) == ["img-2_0.obj", "img_0.obj"]
    assert sorted(os.listdir(out / "render")) == ["img-2_front.jpg", "img-2_side.jpg",
                                                  "img_front.jpg", "img_side.jpg"]


def test_undecodable_video_is_reported_in_one_line(files, tmp_path, capsys):
    # imageio-ffmpeg's error embeds ffmpeg's whole stderr (~30 lines of banner and build
    # configuration); the skip message must stay one line
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"not a video at all\n" * 10)
    (folder / "empty.mp4").write_bytes(b"")
    with open(PHOTO, "rb") as src:  # one readable input, so the run ends with status 1
        (folder / "astronaut.jpg").write_bytes(src.read())
    ckpt, smpl = files
    assert main(["predict", str(folder), "--ckpt", ckpt, "--smpl", smpl, "--boxes",
                 os.path.join(DATA, "boxes.json"), "-o", str(tmp_path / "out"), "--quiet"]) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 2, lines
    for ln, name in zip(lines, ("broken.mp4", "empty.mp4")):
        assert ln.startswith(f"cliff: skipped {folder / name}: could not decode the video"), ln


def test_single_unreadable_input_is_an_error_not_an_empty_result(files, tmp_path, capsys):
    # README: an unreadable input is an error (status 2); only inside a folder with readable
    # files is it skipped (status 1). A lone zero-byte .jpg used to give status 1 and an empty npz.
    bad = tmp_path / "zero.jpg"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    assert predict(files, str(bad), "-o", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cliff: error: no readable image"), err
    assert not out.exists() or os.listdir(out) == []
