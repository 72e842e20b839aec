"""Mesh rendering on the CPU: overlays of bodies on photos and side views (C rasterizer).

Camera: OpenCV frame (x right, y down, z forward, metres), pinhole u = fx*X/Z + cx,
v = fy*Y/Z + cy in pixels. Pixel (row y, column x) is covered when its centre
(x + 0.5, y + 0.5) lies inside a projected triangle (top-left fill rule), the convention of
OpenGL and of the official CLIFF renderer (pyrender). The default principal point is
(W // 2, H // 2), integer floor, as in the official renderer (the official cam_crop2full
uses W/2, H/2: the two differ by half a pixel for odd sizes).
"""
from __future__ import annotations

import colorsys
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _core

ArrayLike = Union[np.ndarray, Sequence]

__all__ = ["render", "render_side", "default_colors", "save_image"]

_MAX_SIDE = 32768  # CLIFF_RENDER_MAX_SIDE of the core
_MAX_MESHES = 65535  # CLIFF_RENDER_MAX_MESHES of the core


def default_colors(n: int) -> np.ndarray:
    """The official demo's palette: person i of n gets HSV (i / n, 0.5, 1.0). -> (n, 3) float32
    RGB in [0, 1]."""
    n = int(n)
    return np.array([colorsys.hsv_to_rgb(i / n, 0.5, 1.0) for i in range(n)],
                    dtype=np.float32).reshape(n, 3)


def _focal(focal) -> Tuple[float, float]:
    if focal is None or isinstance(focal, (str, bytes)):
        raise TypeError(f"focal: expected a scalar or (fx, fy) in pixels, got {type(focal).__name__}")
    try:
        f = np.asarray(focal, dtype=np.float64) if not isinstance(focal, (int, float)) else None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"focal: expected a scalar or (fx, fy) in pixels ({exc})") from None
    if f is None:
        fx = fy = float(focal)
    elif f.shape == ():
        fx = fy = float(f)
    elif f.shape == (2,):
        fx, fy = float(f[0]), float(f[1])
    else:
        raise ValueError(f"focal: expected a scalar or (fx, fy) in pixels, got shape {f.shape}")
    if not (np.isfinite(fx) and np.isfinite(fy) and fx > 0 and fy > 0):
        raise ValueError(f"focal: expected positive finite pixels, got ({fx}, {fy})")
    return fx, fy


def _colors(colors, n: int) -> np.ndarray:
    if colors is None:
        return default_colors(n)
    c = np.asarray(colors)
    if c.dtype.kind not in "uif":
        raise TypeError(f"colors: expected RGB numbers, got dtype {c.dtype}")
    if c.dtype.kind in "ui":
        if c.size and (c.min() < 0 or c.max() > 255):
            raise ValueError("colors: integer colours must be in 0..255")
        c = c.astype(np.float32) / 255.0
    c = c.astype(np.float32)
    if c.shape == (3,):
        c = np.tile(c, (n, 1))
    if c.shape != (n, 3):
        raise ValueError(f"colors: expected shape (3,) or (P, 3) with P = {n}, got {c.shape}")
    if not np.all((c >= 0) & (c <= 1)):
        raise ValueError("colors: float colours must be in [0, 1]")
    return c


def _vertices(vertices):
    shape = np.shape(vertices)
    if len(shape) == 2 and shape[1] == 3:
        return np.asarray(vertices)[None], shape[0]
    if len(shape) == 3 and shape[2] == 3:
        return vertices, shape[1]
    raise ValueError(f"vertices: expected shape (P, V, 3) or (V, 3) in metres, got {shape}")


def render(image: ArrayLike, vertices: ArrayLike, faces: ArrayLike,
           focal: Union[float, Sequence[float]],
           principal_point: Optional[Sequence[float]] = None, *,
           colors: Optional[ArrayLike] = None, alpha: Optional[float] = None,
           side_view: bool = False,
           background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Draw body meshes over a photo (front view) or on a plain background (side view).

    image: (H, W, 3) uint8 **RGB** (flip OpenCV's BGR with ``img[..., ::-1]``); it is not
        modified. For the side view only its size is used, and ``(H, W)`` may be given instead.
    vertices: (P, V, 3) or (V, 3) float, metres in the camera frame (SMPL output with the
        full-frame translation already added). All people share one depth buffer.
    faces: (F, 3) int vertex indices, shared by all people (SMPL: 13776 faces).
    focal: pixels, a scalar (fx = fy) or (fx, fy). CLIFF's default is sqrt(W**2 + H**2).
    principal_point: (cx, cy) pixels; default (W // 2, H // 2) like the official renderer.
    colors: (P, 3) or (3,) RGB, floats in [0, 1] or integers 0..255; default the official
        palette (:func:`default_colors`).
    alpha: mesh opacity in [0, 1]; default 0.8 for the front view, 1.0 for the side view.
    side_view: turn all meshes 90 degrees about the vertical axis through their centre and
        move them onto the optical axis (the official demo's side view), drawn over
        ``background``.
    background: RGB 0..255 of the side view.

    Shading: smooth Lambert from per-vertex normals, light along the optical axis, ambient
    0.3. Returns a new (H, W, 3) uint8 RGB array.

    Raises TypeError (wrong types: non-uint8 image, non-integer faces or size) or ValueError
    (shapes, NaN/inf, out-of-range values), naming the argument. The image size (at most
    32768 per side) and the mesh count (at most 65535) are checked before any buffer is made.
    """
    if side_view:
        if isinstance(image, tuple) and len(image) == 2:
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image):
                raise TypeError(f"image: a size must be two ints (H, W), got {image!r:.80}")
            h, w = int(image[0]), int(image[1])
        else:
            shape = np.shape(image)
            if len(shape) != 3 or shape[2] != 3:
                raise ValueError(f"image: expected shape (H, W, 3) or a size (H, W), got {shape}")
            h, w = shape[0], shape[1]
        if not (1 <= h <= _MAX_SIDE and 1 <= w <= _MAX_SIDE):  # before any canvas exists
            raise ValueError(f"image: expected 1..{_MAX_SIDE} pixels per side, got ({h}, {w})")
        bg = np.asarray(background)
        if bg.shape != (3,) or bg.dtype.kind not in "ui" or bg.min() < 0 or bg.max() > 255:
            raise ValueError(f"background: expected 3 integers in 0..255, got {background!r}")
        # read-only broadcast rows: the core copies them once into the output
        image = np.broadcast_to(np.tile(bg.astype(np.uint8), w).reshape(1, w, 3), (h, w, 3))
        a = 1.0 if alpha is None else alpha
    else:
        shape = np.shape(image)
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"image: expected shape (H, W, 3) uint8 RGB, got {shape}")
        h, w = shape[0], shape[1]
        a = 0.8 if alpha is None else alpha
    a = float(a)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha: expected a value in [0, 1], got {a}")
    verts, _ = _vertices(vertices)
    n = np.shape(verts)[0]
    if n > _MAX_MESHES:  # before the colours or any canvas are made
        raise ValueError(f"vertices: at most {_MAX_MESHES} meshes, got {n}")
    fx, fy = _focal(focal)
    if principal_point is None:
        pp = (float(w // 2), float(h // 2))
    else:
        p = np.asarray(principal_point, dtype=np.float64)
        if p.shape != (2,) or not np.all(np.isfinite(p)):
            raise ValueError("principal_point: expected finite (cx, cy) pixels, "
                             f"got {principal_point!r}")
        pp = (float(p[0]), float(p[1]))
    return _core.render(image, verts, faces, (fx, fy), pp, _colors(colors, n), a, bool(side_view))


def render_side(image: ArrayLike, vertices: ArrayLike, faces: ArrayLike,
                focal: Union[float, Sequence[float]],
                principal_point: Optional[Sequence[float]] = None, *,
                colors: Optional[ArrayLike] = None, alpha: Optional[float] = None,
                background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Side view: :func:`render` with ``side_view=True``. ``image`` may be the photo (only its
    size is used) or a size (H, W). Returns (H, W, 3) uint8 RGB."""
    return render(image, vertices, faces, focal, principal_point, colors=colors, alpha=alpha,
                  side_view=True, background=background)


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
            ".tiff": "TIFF", ".webp": "WEBP"}


def save_image(path: Union[str, os.PathLike], rgb: ArrayLike, *, quality: int = 95) -> None:
    """Write an (H, W, 3) or (H, W) uint8 image (RGB) with Pillow. The format follows the
    extension (.png, .jpg/.jpeg, .bmp, .tif/.tiff, .webp); ``quality`` applies to JPEG/WebP."""
    from PIL import Image

    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise TypeError(f"rgb: expected a uint8 array, got dtype {a.dtype}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)) or a.size == 0:
        raise ValueError(f"rgb: expected shape (H, W, 3) or (H, W), got {a.shape}")
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _FORMATS:
        raise ValueError(f"path: unsupported image extension {ext!r}; use one of "
                         f"{', '.join(sorted(_FORMATS))}")
    fmt = _FORMATS[ext]
    kwargs = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    try:
        Image.fromarray(np.ascontiguousarray(a)).save(path, format=fmt, **kwargs)
    except OSError as exc:
        raise OSError(f"path: cannot write image {os.fspath(path)!r}: {exc}") from exc
