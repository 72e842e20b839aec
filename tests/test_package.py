"""The installed package: version, oneDNN runtime, thread control."""
import re

import cliff


def test_version_is_pep440():
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?(\.dev\d+)?", cliff.__version__)


def test_info_reports_onednn_v3_and_isa():
    info = cliff.info()
    major = int(info["onednn"].split(".")[0])
    assert major == 3, info
    assert info["onednn_isa"] != "unknown"
    assert info["onednn_library"] is None or info["onednn_library"].endswith(".so.3.2") or "libdnnl" in info["onednn_library"]


def test_set_num_threads_roundtrip():
    old = cliff.get_num_threads()
    try:
        cliff.set_num_threads(1)
        assert cliff.get_num_threads() == 1
        cliff.set_num_threads(0)
        assert cliff.get_num_threads() >= 1
    finally:
        cliff.set_num_threads(old)


def test_set_num_threads_rejects_negative():
    import pytest

    with pytest.raises(ValueError, match="n:"):
        cliff.set_num_threads(-3)


def test_core_stub_describes_every_extension_name():
    """cliff/_core.pyi (for type checkers) lists exactly the functions and types of cliff._core."""
    import ast
    import os

    from cliff import _core

    stub = ast.parse(open(os.path.join(os.path.dirname(cliff.__file__), "_core.pyi")).read())
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert stubbed == public, (sorted(public - stubbed), sorted(stubbed - public))


def test_old_import_paths_warn_and_give_the_moved_module():
    """cliff 0.1 paths (cliff.losses, cliff.keypoints, ...) keep working for one release: the
    module returned is the one at the new place, with a DeprecationWarning naming it."""
    import importlib
    import sys
    import warnings

    import cliff.annotate.losses as new
    sys.modules.pop("cliff.losses", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("cliff.losses")
    assert old is new
    assert any(issubclass(w.category, DeprecationWarning) and "cliff.annotate.losses" in str(w.message)
               for w in caught)


def test_the_package_tree_shows_the_architecture():
    """A reader finds each area by its name: inference at the top, file formats in io/, the
    annotator in annotate/, the command line in cli/, stand-ins in one private module."""
    import cliff
    from pathlib import Path
    root = Path(cliff.__file__).parent
    for rel in ("camera.py", "crop.py", "model.py", "smpl.py", "render.py", "pipeline.py",
                "constants.py", "_standin.py", "io/checkpoint.py", "io/boxes.py", "io/images.py",
                "annotate/fit.py", "annotate/finetune.py", "annotate/losses.py",
                "annotate/keypoints.py", "cli/__init__.py", "cli/annotate.py"):
        assert (root / rel).is_file(), rel
