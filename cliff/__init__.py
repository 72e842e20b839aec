"""cliff: CPU-first CLIFF human mesh recovery (C core on oneDNN, NumPy API).

Units: pixels for image quantities, metres for 3D; camera frame is OpenCV's
(x right, y down, z forward).
"""
from __future__ import annotations

import numpy as _np

from ._version import __version__
from . import _dnnl
_dnnl.preload()  # also starts OpenMP with a short spin (see cliff/_dnnl.py, cliff/_threads.py)
try:
    from . import _core
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "cliff: the C core could not be loaded. It needs libdnnl.so.3 from the "
        "'onednn-cpu-gomp==2023.2.0' package (pip install onednn-cpu-gomp==2023.2.0). "
        f"Original error: {exc}"
    ) from exc


def set_num_threads(n: int) -> None:
    """Set the number of threads the core uses (OpenMP and oneDNN). 0 restores all cores.
    Raises TypeError unless ``n`` is an int (no silent ``'2'`` -> 2), ValueError outside
    0..4096."""
    if isinstance(n, bool) or not isinstance(n, (int, _np.integer)):
        raise TypeError(f"n: expected an int thread count, got {type(n).__name__}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """Number of threads the core uses."""
    return _core.get_num_threads()


def info() -> dict:
    """Versions and runtime facts: cliff version, oneDNN version and ISA, threads, library path."""
    d = _core.dnnl_info()
    return {
        "cliff": __version__,
        "onednn": "%d.%d.%d" % d["version"],
        "onednn_isa": d["isa"],
        "onednn_library": _dnnl.library_path(),
        "num_threads": get_num_threads(),
        "omp_wait": _dnnl.wait_setting(),
    }


# Public names, by area. The package is grouped by what a reader looks for: the inference API
# here (camera, crop, model, smpl, render, pipeline, detect), file formats in cliff.io, the
# annotator in cliff.annotate, the command line in cliff.cli, stand-in files in cliff._standin.
from .camera import (  # noqa: E402  geometry in C
    axis_angle_to_rotmat,
    bbox_info,
    boxes_to_center_scale,
    cam_crop_to_full,
    estimate_focal_length,
    project_points,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
)
from .crop import crop  # noqa: E402  official preprocessing
from .model import Model, load_model  # noqa: E402  networks on oneDNN
from .smpl import SMPL  # noqa: E402  body model
from .smplx import SMPLX  # noqa: E402  SMPL-X body model
from .render import default_colors, render, render_side, save_image  # noqa: E402
from .pipeline import Estimator  # noqa: E402  photos -> bodies
from .focal import FocalEstimator  # noqa: E402  learned focal length (HumanFoV)
from .io.images import read_image  # noqa: E402
from .io.mesh import save_obj, save_ply  # noqa: E402
from .io.boxes import load_boxes  # noqa: E402
from . import annotate, constants, detect, files, io  # noqa: E402
from . import evaluate  # noqa: E402  benchmarks: cliff.evaluate(...) is callable
from .annotate.fit import FitBody, fit_people  # noqa: E402  the annotator's per-person refinement
from .motion import export_bvh, export_glb  # noqa: E402  animation files (docs/motion.md)
from . import motion  # noqa: E402  tracking and smoothing
from . import families  # noqa: E402  released CLIFF networks as data (docs/models.md)
from . import _compat  # noqa: E402

_compat.install()


def __getattr__(name: str):
    """Old attribute paths (cliff.losses, cliff.keypoints, cliff.standin): one more release."""
    old = f"cliff.{name}"
    if old in _compat.MOVED:
        import importlib
        _compat.warn_moved(old)
        return importlib.import_module(_compat.MOVED[old])
    raise AttributeError(f"module 'cliff' has no attribute {name!r}")


__all__ = [
    "__version__", "info", "set_num_threads", "get_num_threads",
    "rot6d_to_rotmat", "rotmat_to_axis_angle", "axis_angle_to_rotmat", "estimate_focal_length",
    "boxes_to_center_scale", "bbox_info", "cam_crop_to_full", "project_points",
    "crop", "Model", "load_model", "SMPL", "SMPLX", "save_obj", "save_ply",
    "render", "render_side", "default_colors", "save_image", "read_image",
    "Estimator", "load_boxes",
    "annotate", "constants", "detect", "files", "io", "FitBody", "fit_people",
    "evaluate",
    "motion", "export_glb", "export_bvh",
    "FocalEstimator",
    "families",
]
