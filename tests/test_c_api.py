"""The core is usable from C without Python: a small program that includes only csrc/cliff.h,
linked with the core's sources and oneDNN, must build warning-free and pass its checks."""
import glob
import os
import shutil
import subprocess

import pytest

from cliff import _dnnl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_c_program_uses_the_core_through_cliff_h(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    lib = _dnnl.library_path()
    if cc is None or lib is None:
        pytest.skip("needs a C compiler and the onednn-cpu-gomp library")
    include = os.path.join(os.path.dirname(os.path.dirname(lib)), "include")
    if not os.path.exists(os.path.join(include, "oneapi", "dnnl", "dnnl.h")):
        pytest.skip("oneDNN headers (onednn-devel-cpu-gomp) not installed")
    sources = sorted(glob.glob(os.path.join(REPO, "csrc", "*.c")) + glob.glob(os.path.join(REPO, "csrc", "nn", "*.c")))
    exe = str(tmp_path / "smoke")
    cmd = [cc, "-std=c11", "-O1", "-fopenmp", "-Wall", "-Wextra", "-Werror",
           "-I", os.path.join(REPO, "csrc"), "-I", include,
           os.path.join(REPO, "tests", "c", "smoke.c"), *sources, lib,
           "-Wl,-rpath," + os.path.dirname(lib), "-lm", "-o", exe]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([exe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
