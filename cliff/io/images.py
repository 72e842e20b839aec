"""Reading inputs: images, folders of images and videos (streamed frame by frame).

All images come out as (H, W, 3) uint8 **RGB**. (The official demo reads BGR with OpenCV and
flips it to RGB before cropping; OpenCV applies the JPEG EXIF orientation, and so do we.)
"""
from __future__ import annotations

import os
from typing import Iterator

import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, EXIF orientation applied.

    Raises OSError naming the path when it is missing, unreadable or not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I;16") or im.mode in ("I", "F"):
                return _gray_to_rgb8(np.asarray(im), im.mode)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise OSError(f"{path}: not a readable image ({exc})") from exc


def _gray_to_rgb8(a: np.ndarray, mode: str) -> np.ndarray:
    """16-bit (and 32-bit integer) grey images scaled to 8 bits like OpenCV's IMREAD_COLOR
    (value >> 8); Pillow's own convert("RGB") would clip every value above 255 to white.
    Float images are taken as 0..1."""
    if mode == "F":
        g = np.clip(np.nan_to_num(a.astype(np.float64)) * 255.0 + 0.5, 0, 255)
    elif mode == "I":
        g = np.clip(a.astype(np.int64), 0, 65535) >> 8
    else:
        g = a.astype(np.uint16) >> 8
    g = g.astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTS)


def list_inputs(paths: list[str]) -> list[str]:
    """Expand folders into their image and video files (sorted by path); keep files as given.

    Raises FileNotFoundError for a path that does not exist."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.listdir(p))
            out.extend(os.path.join(p, n) for n in names if n.lower().endswith(IMAGE_EXTS + VIDEO_EXTS))
        elif os.path.exists(p):
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def iter_video(path: str) -> Iterator[tuple[str, np.ndarray]]:
    """Stream the frames of a video as (name, RGB frame) with name "<path>:<frame index:06d>".

    Frames are decoded one at a time (imageio + its bundled ffmpeg); the video is never held
    in memory."""
    try:
        import imageio.v3 as iio
    except ImportError as exc:  # pragma: no cover - imageio is a dependency
        raise OSError(f"{path}: reading videos needs imageio and imageio-ffmpeg") from exc
    try:
        for i, frame in enumerate(iio.imiter(path, plugin="pyav" if _has_pyav() else None)):
            frame = np.asarray(frame)
            if frame.ndim == 2:
                frame = np.repeat(frame[..., None], 3, axis=2)
            yield f"{path}:{i:06d}", np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    except (OSError, RuntimeError, ValueError) as exc:
        raise OSError(f"{path}: could not decode the video ({_one_line(exc)})") from exc


def _one_line(exc: BaseException) -> str:
    """The gist of a decoder error in one line: imageio-ffmpeg's message embeds ffmpeg's whole
    stderr (banner, build configuration, ...); keep its first line and ffmpeg's last one."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) == 1 or lines[-1] == lines[0]:
        return lines[0]
    return f"{lines[0]}: {lines[-1]}"


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
        return True
    except ImportError:
        return False


def iter_frames(paths: list[str], on_error=None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, RGB image) for every image and every video frame under `paths`.

    A file that cannot be read is passed to `on_error(path, exc)` and skipped (the rest is
    processed); without `on_error` the error is raised."""
    for p in list_inputs(paths):
        try:
            if is_video(p):
                yield from iter_video(p)
            else:
                yield p, read_image(p)
        except OSError as exc:
            if on_error is None:
                raise
            on_error(p, exc)
