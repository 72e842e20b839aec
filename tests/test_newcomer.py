"""What a newcomer meets first (issue 10, item 7): CLIFF_HOME errors that list what is missing,
messages that name the flag, plurals, one --quiet, `cliff cache`, and a Makefile that compiles
the core once and says what it installs."""
import os
import shutil
import subprocess

import pytest

import cliff
from cliff.cli import build_parser, main
from cliff.files import OFFICIAL_CKPT, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cliff.__file__)))
DATA = os.path.join(ROOT, "cliff", "data")
PHOTO = os.path.join(DATA, "astronaut.jpg")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """res50 stand-in checkpoint + SMPL in a module folder (not the user's cache)."""
    return cliff.files.standin_files("res50", str(tmp_path_factory.mktemp("standin")))


# ---- CLIFF_HOME set, files missing: an error listing every path, never stand-ins -------------

def test_cliff_home_without_files_lists_every_path_and_refuses_standins(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        resolve(None, None, "hr48", allow_standin=True)  # allowed, yet no silent fall-back
    msg = str(e.value)
    assert "CLIFF_HOME" in msg and "2 of the files looked for are missing" in msg
    assert f"{tmp_path}/ckpt/{OFFICIAL_CKPT['hr48']}  (MISSING)" in msg
    assert f"{tmp_path}/smpl/SMPL_NEUTRAL.pkl  (MISSING)" in msg


def test_cliff_home_with_one_file_says_which_is_found_and_which_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path))
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(b"x")
    with pytest.raises(FileNotFoundError) as e:
        resolve(None, None, "res50", allow_standin=True)
    msg = str(e.value)
    assert "1 of the files looked for is missing" in msg
    assert f"{OFFICIAL_CKPT['res50']}  (MISSING)" in msg and "SMPL_NEUTRAL.pkl  (found)" in msg


def test_cliff_home_files_given_explicitly_are_not_looked_for(tmp_path, monkeypatch, standin):
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path))  # empty, but both flags are given
    ckpt, smpl = standin
    assert resolve(ckpt, smpl, "res50", allow_standin=False) == (ckpt, smpl, False)


def test_demo_with_a_broken_cliff_home_fails_with_the_list(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLIFF_HOME", str(tmp_path / "home"))
    assert main(["demo", "-o", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "(MISSING)" in err and "STAND-IN" not in err
    assert not (tmp_path / "out" / "demo.npz").exists()


# ---- messages ----------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--ckpt", "--smpl"])
def test_a_folder_given_as_a_model_file_names_the_flag(tmp_path, monkeypatch, capsys, flag):
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    assert main(["predict", PHOTO, flag, str(tmp_path), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{flag}: {tmp_path} is a folder" in err


@pytest.mark.parametrize("flag", ["--threads", "--batch-size"])
def test_a_non_number_does_not_leak_an_internal_name(capsys, flag):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", PHOTO, "-o", "x", flag, "abc"])
    err = capsys.readouterr().err
    assert f"argument {flag}: expected an integer, got 'abc'" in err
    assert "_threads" not in err and "_positive_int" not in err and "invalid" not in err


def test_summary_line_uses_singulars(standin, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    ckpt, smpl = standin
    assert main(["predict", PHOTO, "--boxes", os.path.join(DATA, "boxes.json"), "--ckpt", ckpt,
                 "--smpl", smpl, "-o", str(tmp_path)]) == 0
    assert "cliff: 1 person in 1 image -> " in capsys.readouterr().err


ANNOTATE = ["annotate", "--images", "d", "--keypoints", "k.json", "--ckpt", "c", "--smpl", "s",
            "-o", "x.npz"]


@pytest.mark.parametrize("command", ["predict", "demo", "annotate", "evaluate", "cache", "export"])
def test_every_subcommand_takes_quiet(command):
    args = {"predict": ["predict", PHOTO, "-o", "x"], "demo": ["demo"],
            "annotate": ANNOTATE, "cache": ["cache"], "export": ["export", "r.npz", "--format", "bvh"],
            "evaluate": ["evaluate", "3dpw", "--data", "d.npz", "--ckpt", "c",
                                               "--smpl-dir", "s"]}[command]
    ns = build_parser().parse_args(args + ["--quiet"])
    assert getattr(ns, "quiet", None) is True or getattr(ns, "no_progress", None) is True


def test_annotate_keeps_the_old_no_progress_name():
    ns = build_parser().parse_args(ANNOTATE + ["--no-progress"])
    assert ns.no_progress is True


# ---- cliff cache -------------------------------------------------------------------------

def test_cache_lists_then_clears_the_standin_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "cliff" / f"standin-{cliff.__version__}"
    folder.mkdir(parents=True)
    (folder / "standin-res50.pt").write_bytes(b"\0" * 2_000_000)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "cliff") in out and "2.0 MB" in out and "standin-res50.pt" in out
    assert main(["cache", "--clear"]) == 0
    assert "removed" in capsys.readouterr().out and not (tmp_path / "cliff").exists()
    assert main(["cache"]) == 0
    assert "nothing cached" in capsys.readouterr().out


# ---- Makefile ----------------------------------------------------------------------------

def _make_dry_run(target, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-B", target, f"VENV={tmp_path}/venv"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_make_demo_compiles_the_core_once(tmp_path):
    lines = _make_dry_run("demo", tmp_path)
    assert sum("build_ext" in ln for ln in lines) == 1
    # the editable install does not build the extension (setup.py honours CLIFF_NO_EXT=1)
    editable = [ln for ln in lines if "install" in ln and " -e " in ln]
    assert editable and all(ln.startswith("CLIFF_NO_EXT=1 ") for ln in editable)


def test_make_test_shows_what_it_installs(tmp_path):
    lines = _make_dry_run("test", tmp_path)
    pip = [ln for ln in lines if "-m pip" in ln]
    assert pip and not any(" -q" in ln for ln in pip)
    assert sum(ln.startswith("echo \"== cliff:") for ln in lines) >= 3


def test_make_distclean_removes_the_standin_cache(tmp_path):
    lines = _make_dry_run("distclean", tmp_path)
    assert any('XDG_CACHE_HOME:-$HOME/.cache}/cliff' in ln and ln.startswith("rm -rf") for ln in lines)


# ---- inputs checked before any model file is touched --------------------------------------

@pytest.mark.parametrize("case", ["missing input", "missing boxes file", "bad boxes file"])
def test_bad_inputs_fail_before_the_model_files(tmp_path, monkeypatch, capsys, case):
    # --ckpt/--smpl point at files that do not exist: had they been looked at first, the error
    # would name them; the input error must come first
    monkeypatch.delenv("CLIFF_HOME", raising=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    args = {"missing input": [str(tmp_path / "nope.jpg")],
            "missing boxes file": [PHOTO, "--boxes", str(tmp_path / "nope.json")],
            "bad boxes file": [PHOTO, "--boxes", str(bad)]}[case]
    assert main(["predict", *args, "--ckpt", str(tmp_path / "no.pt"), "--smpl",
                 str(tmp_path / "no.pkl"), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err or "bad.json" in err
    assert "no.pt" not in err and "no.pkl" not in err
