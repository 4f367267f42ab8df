"""image_source: whatever the user picked becomes a file the worker can read."""

from __future__ import annotations

import addon_utils
import bpy
import numpy as np
import pytest

from latentdreamer_addon import image_source
from latentdreamer_addon.image_source import ImageSourceError


@pytest.fixture
def settings(clean_file):
    addon_utils.enable("latentdreamer_addon", default_set=True, handle_error=None)
    yield bpy.context.scene.latentdreamer
    addon_utils.disable("latentdreamer_addon", default_set=True, handle_error=None)


def test_generated_image_is_written_to_a_png_with_its_pixels(settings):
    img = bpy.data.images.new("Painted Chair", 16, 8, alpha=True)
    px = np.zeros((8, 16, 4), np.float32)
    px[..., 0], px[..., 3] = 1.0, 1.0  # red
    img.pixels.foreach_set(px.ravel())
    settings.image_source, settings.image = "DATABLOCK", img
    inputs, name = image_source.resolve(settings, None)
    assert name == "Painted Chair"
    saved = bpy.data.images.load(inputs["image"])
    assert tuple(saved.size) == (16, 8)
    back = np.empty(16 * 8 * 4, np.float32)
    saved.pixels.foreach_get(back)
    assert np.allclose(back.reshape(8, 16, 4)[..., :3].mean(axis=(0, 1)), (1, 0, 0), atol=0.01)
    assert img.source == "GENERATED" and img.filepath == ""  # the user's datablock is unchanged


def test_image_from_a_file_is_used_in_place(settings, tmp_path):
    img = bpy.data.images.new("cup", 4, 4)
    path = tmp_path / "cup.png"
    img.filepath_raw, img.file_format = str(path), "PNG"
    img.save()
    loaded = bpy.data.images.load(str(path))
    settings.image_source, settings.image = "DATABLOCK", loaded
    assert image_source.resolve(settings, None) == ({"image": str(path)}, "cup")
    settings.image_source, settings.filepath = "FILE", str(path)
    assert image_source.resolve(settings, None) == ({"image": str(path)}, "cup")


def test_six_views_and_missing_inputs(settings, tmp_path):
    grid, normals = tmp_path / "views.png", tmp_path / "normals.png"
    grid.write_bytes(b"x")
    normals.write_bytes(b"x")
    settings.image_source, settings.views_grid = "VIEWS", str(grid)
    assert image_source.resolve(settings, None) == ({"views": {"grid": str(grid)}}, "views")
    settings.normals_grid = str(normals)
    assert image_source.resolve(settings, None)[0]["normals"] == {"grid": str(normals)}
    settings.image_source = "EDITOR"
    with pytest.raises(ImageSourceError, match="choose an image in an Image Editor"):
        image_source.resolve(settings, None)
    settings.image_source, settings.image = "DATABLOCK", None
    with pytest.raises(ImageSourceError, match="choose an image in the panel"):
        image_source.resolve(settings, None)
    settings.image_source, settings.filepath = "FILE", ""
    with pytest.raises(ImageSourceError, match="choose the image file"):
        image_source.resolve(settings, None)
