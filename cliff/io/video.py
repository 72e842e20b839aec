"""Writing videos frame by frame (imageio-ffmpeg, bundled ffmpeg): H.264 in .mp4, yuv420p.

Only one frame is held at a time. Frames of odd width or height are padded by one row/column
(H.264's 4:2:0 chroma needs even sizes); every frame of a video must have the first one's size.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

__all__ = ["VideoWriter", "video_fps"]


def video_fps(path: str, default: float = 30.0) -> float:
    """Frame rate of a video file from its metadata (``default`` when it has none)."""
    try:
        import imageio.v3 as iio
        fps = iio.immeta(path, plugin="FFMPEG").get("fps")
    except Exception:  # noqa: BLE001 - a video without readable metadata gets the default
        fps = None
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        return float(default)
    return fps if np.isfinite(fps) and fps > 0 else float(default)


class VideoWriter:
    """``with VideoWriter("out.mp4", fps=30) as w: w.write(rgb_frame)`` -- (H, W, 3) uint8 RGB."""

    def __init__(self, path: str | os.PathLike, fps: float, *, quality: int = 7):
        if not (isinstance(fps, (int, float, np.integer, np.floating)) and 0 < fps < np.inf):
            raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
        self.path, self.fps, self.quality = os.fspath(path), float(fps), int(quality)
        self._gen = None
        self._size: Optional[tuple[int, int]] = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        a = np.asarray(frame)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"frame: expected (H, W, 3) uint8 RGB, got {a.dtype} {a.shape}")
        h, w = a.shape[:2]
        if self._gen is None:
            import imageio_ffmpeg
            self._size = (w, h)
            W, H = w + w % 2, h + h % 2
            self._gen = imageio_ffmpeg.write_frames(
                self.path, (W, H), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", quality=self.quality, macro_block_size=1,
                ffmpeg_log_level="error")
            self._gen.send(None)
        elif (w, h) != self._size:
            raise ValueError(f"frame: expected size {self._size} (W, H) like the first frame, got {(w, h)}")
        if w % 2 or h % 2:
            a = np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(a))
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
