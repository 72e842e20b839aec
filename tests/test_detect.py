"""The optional built-in detector: landmark -> box rule, and a clear error without MediaPipe."""
import numpy as np
import pytest

from cliff import detect


def test_box_spans_visible_landmarks_with_margins():
    """Visible landmarks span x 100..200, y 100..300 (w 100, h 200): 10 % each side, and the
    top grows by a further 0.4 * max(w, h) / 2 = 40 px for the head above the eyes."""
    xyv = np.array([[100, 100, 0.9], [200, 300, 0.9], [150, 200, 0.9], [120, 250, 0.9],
                    [900, 900, 0.1]])  # an invisible landmark far away is ignored
    box = detect.landmarks_to_box(xyv, 1000, 1000)
    np.testing.assert_allclose(box, [90, 100 - 20 - 40, 210, 320])


def test_box_is_clamped_to_the_image_and_needs_four_landmarks():
    xyv = np.array([[0, 0, 1], [50, 0, 1], [0, 50, 1], [50, 50, 1]], float)
    np.testing.assert_allclose(detect.landmarks_to_box(xyv, 40, 40), [0, 0, 40, 40])
    assert detect.landmarks_to_box(xyv[:3], 40, 40) is None


def test_without_mediapipe_the_error_says_how_to_get_boxes(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *a, **k):
        if name.startswith("mediapipe"):
            raise ImportError("no mediapipe here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    assert not detect.available()
    with pytest.raises(RuntimeError, match="xyxy"):
        detect.detect_people(np.zeros((8, 8, 3), np.uint8))
