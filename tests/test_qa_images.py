"""QA regression: 16-bit images are read like OpenCV's imread (value >> 8), not clipped."""
import numpy as np
from PIL import Image

import cliff


def test_16bit_grey_png_is_scaled_to_8_bits_not_clipped(tmp_path):
    # A 16-bit ramp: OpenCV's imread (the official demo's reader) gives value >> 8 in all three
    # channels; Pillow's convert("RGB") clipped everything above 255 to white.
    ramp = (np.arange(64 * 80, dtype=np.uint32).reshape(64, 80) * 12).astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I;16")
    rgb = cliff.read_image(path)
    assert rgb.shape == (64, 80, 3) and rgb.dtype == np.uint8
    expect = (ramp >> 8).astype(np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], expect)
