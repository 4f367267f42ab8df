import numpy as np
import pytest
import torch
from PIL import Image

from latentdreamer.io.images import read_image, rendered_to_image, to_uint8, write_png


@pytest.mark.parametrize("channels", [3, 4])
def test_png_round_trip_within_one_level(tmp_path, channels):
    rng = np.random.default_rng(0)
    image = rng.random((7, 5, channels)).astype(np.float32)
    path = write_png(tmp_path / "sub" / "a.png", image)
    back = read_image(path)
    assert back.shape == image.shape and back.dtype == np.float32
    assert np.abs(back - image).max() <= 0.5 / 255 + 1e-6
    with Image.open(path) as img:
        assert img.mode == ("RGBA" if channels == 4 else "RGB")


def test_uint8_and_grey_inputs(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    write_png(tmp_path / "g.png", pixels)
    back = read_image(tmp_path / "g.png")
    assert back.shape == (3, 4, 3)
    np.testing.assert_array_equal(to_uint8(back[..., 1]), pixels)
    write_png(tmp_path / "g1.png", pixels[..., None])
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "g1.png")[..., 0]), pixels)


def test_out_of_range_is_clipped_and_bad_shapes_rejected(tmp_path):
    write_png(tmp_path / "c.png", np.array([[[-1.0, 0.5, 2.0]]]))
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "c.png")), [[[0, 128, 255]]])
    with pytest.raises(ValueError, match="image"):
        write_png(tmp_path / "bad.png", np.zeros((2, 2, 2)))


def test_palette_with_transparency_reads_as_rgba(tmp_path):
    img = Image.new("P", (2, 2))
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    back = read_image(tmp_path / "p.png")
    assert back.shape == (2, 2, 4)
    np.testing.assert_array_equal(back[..., 3], [[0, 0], [0, 1]])
    np.testing.assert_array_equal(back[1, 1], [0, 1, 0, 1])


def test_rendered_to_image_flips_rows():
    rendered = torch.zeros(2, 4, 3, 1, requires_grad=True)
    marked = rendered.detach().clone()
    marked[:, 0] = 1.0  # rasteriser row 0: the bottom of the picture
    image = rendered_to_image(marked)
    assert image.shape == (2, 4, 3, 1) and image.dtype == np.float32
    assert image[:, -1].min() == 1 and image[:, :-1].max() == 0
    assert rendered_to_image(rendered[0]).shape == (4, 3, 1)


def test_module_does_not_load_torch():
    # The worker's file-moving paths use to_uint8/write_png without paying for torch.
    import subprocess
    import sys

    code = "import sys, latentdreamer.io.images; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
