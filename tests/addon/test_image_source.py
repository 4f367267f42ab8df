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


def test_six_files_from_a_folder_in_name_order_with_their_normals(settings, tmp_path):
    for k in range(6):
        (tmp_path / f"rgb_{k}.png").write_bytes(b"png")
        (tmp_path / f"normal_{k}.png").write_bytes(b"png")
    (tmp_path / "notes.txt").write_text("ignored")
    settings.image_source, settings.views_layout, settings.views_folder = "VIEWS", "FILES", str(tmp_path)
    inputs, name = image_source.resolve(settings, None)
    assert inputs["views"]["files"] == [str(tmp_path / f"rgb_{k}.png") for k in range(6)]
    assert inputs["normals"]["files"] == [str(tmp_path / f"normal_{k}.png") for k in range(6)]
    assert name == tmp_path.name


def test_a_folder_without_six_views_says_what_it_found(settings, tmp_path):
    for k in range(5):
        (tmp_path / f"view{k}.jpg").write_bytes(b"jpg")
    settings.image_source, settings.views_layout, settings.views_folder = "VIEWS", "FILES", str(tmp_path)
    with pytest.raises(ImageSourceError, match="holds 5 view images; it needs exactly 6"):
        image_source.resolve(settings, None)
    (tmp_path / "view5.jpg").write_bytes(b"jpg")
    (tmp_path / "normal_0.png").write_bytes(b"png")
    with pytest.raises(ImageSourceError, match="holds 1 normal maps; give all 6 or none"):
        image_source.resolve(settings, None)
    settings.views_folder = str(tmp_path / "missing")
    with pytest.raises(ImageSourceError, match="views folder not found"):
        image_source.resolve(settings, None)


def test_prompt_source(settings):
    settings.image_source = "PROMPT"
    with pytest.raises(ImageSourceError, match="describe the object"):
        image_source.resolve(settings, None)
    settings.prompt = "  a red, ceramic teapot!  "
    inputs, name = image_source.resolve(settings, None)
    assert inputs == {"prompt": "a red, ceramic teapot!"} and name == "a_red_ceramic_teapot"
