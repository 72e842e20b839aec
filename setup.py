"""Build the C core `cliff._core` against oneDNN v3 from the onednn-*-cpu-gomp wheels.

The oneDNN headers and library are located through the installed distributions' own file
lists (works both inside pip's isolated build environment and in a plain virtualenv).
Set CLIFF_DNNL_PREFIX=/some/prefix to build against another oneDNN 3.x install instead
(expects include/oneapi/dnnl/dnnl.h and lib/libdnnl.so.3 under it).
"""
import glob
import os
import sys
import sysconfig
from importlib import metadata

import numpy
from setuptools import Extension, setup


def _dist_file(dist, suffix):
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        path = os.path.normpath(str(f.locate()))
        if path.replace("\\", "/").endswith(suffix) and os.path.exists(path):
            return path
    return None


def find_onednn():
    prefix = os.environ.get("CLIFF_DNNL_PREFIX")
    if prefix:
        inc = os.path.join(prefix, "include")
        lib = os.path.join(prefix, "lib", "libdnnl.so.3")
    else:
        header = _dist_file("onednn-devel-cpu-gomp", "include/oneapi/dnnl/dnnl.h")
        lib = _dist_file("onednn-cpu-gomp", "lib/libdnnl.so.3")
        if header is None or lib is None:
            sys.exit("cliff: oneDNN not found; install onednn-cpu-gomp==2023.2.0 and "
                     "onednn-devel-cpu-gomp==2023.2.0 (or set CLIFF_DNNL_PREFIX)")
        inc = os.path.dirname(os.path.dirname(os.path.dirname(header)))
    if not os.path.exists(os.path.join(inc, "oneapi", "dnnl", "dnnl.h")) or not os.path.exists(lib):
        sys.exit(f"cliff: oneDNN headers/library missing under {inc!r} / {lib!r}")
    return inc, lib


def runtime_rpath():
    """$ORIGIN-relative path from the installed extension (site-packages/cliff) to <data>/lib,
    where the onednn-cpu-gomp wheel puts libdnnl.so.3. cliff/__init__.py also preloads the
    library by absolute path, so this is a second line of defence."""
    pkg_dir = os.path.join(sysconfig.get_path("platlib"), "cliff")
    data_lib = os.path.join(sysconfig.get_path("data"), "lib")
    return "$ORIGIN/" + os.path.relpath(data_lib, pkg_dir)


dnnl_inc, dnnl_lib = find_onednn()
sources = sorted(glob.glob("csrc/*.c") + glob.glob("csrc/nn/*.c") + glob.glob("csrc/py/*.c"))
headers = sorted(glob.glob("csrc/**/*.h", recursive=True))

core = Extension(
    "cliff._core",
    sources=sources,
    depends=headers,
    include_dirs=["csrc", dnnl_inc, numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=["-std=c11", "-O3", "-fopenmp", "-Wall", "-Wextra",
                        "-fvisibility=hidden", "-fno-math-errno"],
    extra_link_args=["-fopenmp", dnnl_lib, "-Wl,-rpath," + runtime_rpath()],
)

# CLIFF_NO_EXT=1: no extension in this install (`make` builds it once in place with
# `setup.py build_ext --inplace`, which the editable install then finds in the source tree).
setup(ext_modules=[] if os.environ.get("CLIFF_NO_EXT") == "1" else [core])
