"""Input images of every common kind, made here with Pillow, through the Zero123++ framing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image, features

from latentdreamer.priors import segmentation
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.image_input import GREY, OBJECT_FILL, load_image, prepare_image

SIZE = 96


def _scene(bg=(255, 255, 255), fg=(200, 30, 30), box=(10, 20, 40, 70), shape=(80, 120)) -> np.ndarray:
    """An (H, W, 3) uint8 image: a coloured rectangle (x0, y0, x1, y1) off-centre on a plain background."""
    img = np.empty(shape + (3,), np.uint8)
    img[:] = bg
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = fg
    return img


def _object_box(prepared) -> tuple[float, float, float]:
    """Centre (x, y) of the framed object in pixels and its longest side."""
    ys, xs = np.nonzero(prepared.rgba[..., 3] > 0.5)
    return (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2, max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def _check_framing(prepared, size=SIZE) -> None:
    cx, cy, side = _object_box(prepared)
    assert prepared.condition.shape == (size, size, 3) and prepared.condition.dtype == np.float32
    assert abs(cx - size / 2) <= 1.5 and abs(cy - size / 2) <= 1.5
    assert abs(side - OBJECT_FILL * size) <= 2
    assert np.allclose(prepared.condition[0, 0], GREY, atol=1e-3)  # corners are grey 127
    assert np.allclose(prepared.condition[-1, -1], GREY, atol=1e-3)


def test_rgba_png_uses_its_alpha_and_is_recentred(tmp_path):
    rgb = _scene()
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[20:70, 10:40] = 255
    path = tmp_path / "cut.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    prepared = prepare_image(path, size=SIZE)
    assert prepared.segmentation == "alpha"
    _check_framing(prepared)
    centre = prepared.condition[SIZE // 2, SIZE // 2]
    assert np.allclose(centre, np.array([200, 30, 30]) / 255, atol=2 / 255)


def test_jpeg_on_plain_background_is_flood_filled(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(_scene(), "RGB").save(path, quality=90)
    prepared = prepare_image(path, size=SIZE)
    assert prepared.segmentation == "plain-background"
    _check_framing(prepared)


def test_flood_fill_keeps_a_background_coloured_hole_inside_the_object():
    rgb = _scene(box=(20, 20, 80, 60)).astype(np.float32) / 255
    rgb[35:45, 40:60] = 1.0  # white window inside the red box, not connected to the border
    mask, notes = segmentation.plain_background_mask(rgb)
    assert mask[40, 50] == 1.0 and mask[40, 25] == 1.0 and mask[5, 5] == 0.0 and notes == []


def test_cluttered_background_is_reported():
    rng = np.random.default_rng(0)
    rgb = rng.random((64, 64, 3)).astype(np.float32)
    rgb[20:40, 20:40] = 0.0
    _, notes = segmentation.plain_background_mask(rgb)
    assert notes and "not plain" in notes[0]


@pytest.mark.parametrize(
    "fmt,mode",
    [("PNG", "L"), ("PNG", "LA"), ("PNG", "P"), ("TIFF", "RGB"), ("BMP", "RGB"), ("TIFF", "CMYK"), ("GIF", "P")],
)
def test_common_formats_and_modes_load_as_float_rgba(tmp_path, fmt, mode):
    img = Image.fromarray(_scene(bg=(240, 240, 240), fg=(20, 20, 20)), "RGB").convert(mode)
    path = tmp_path / f"image.{fmt.lower()}"
    img.save(path, format=fmt)
    loaded = load_image(path)
    assert loaded.rgba.shape == (80, 120, 4) and loaded.rgba.dtype == np.float32
    assert 0.0 <= loaded.rgba.min() and loaded.rgba.max() <= 1.0
    assert loaded.rgba[40, 20, :3].max() < 0.25 and loaded.rgba[5, 100, :3].min() > 0.75
    prepared = prepare_image(loaded, size=SIZE)
    _check_framing(prepared)


@pytest.mark.skipif(not features.check("webp"), reason="this Pillow was built without WebP")
def test_webp_with_alpha(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[10:30, 30:60] = (10, 200, 10, 255)
    path = tmp_path / "x.webp"
    Image.fromarray(rgba, "RGBA").save(path, lossless=True)
    prepared = prepare_image(path, size=SIZE)
    assert prepared.segmentation == "alpha"
    _check_framing(prepared)


def test_palette_with_transparency_counts_as_alpha(tmp_path):
    img = Image.new("P", (64, 48), 0)
    img.putpalette([255, 255, 255, 0, 0, 255] + [0] * 762)
    img.paste(1, (5, 5, 25, 40))
    path = tmp_path / "pal.png"
    img.save(path, transparency=0)
    loaded = load_image(path)
    assert loaded.has_alpha and loaded.rgba[0, 0, 3] == 0.0 and loaded.rgba[10, 10, 3] == 1.0
    assert prepare_image(loaded, size=SIZE).segmentation == "alpha"


def test_sixteen_bit_greyscale_keeps_its_precision(tmp_path):
    grey = np.full((40, 50), 60000, np.uint16)
    grey[10:30, 10:20] = 1000
    grey[0, 0] = 60001
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    loaded = load_image(path)
    assert loaded.rgba[20, 15, 0] == pytest.approx(1000 / 65535, abs=1e-6)
    assert loaded.rgba[0, 0, 0] - loaded.rgba[0, 1, 0] == pytest.approx(1 / 65535, rel=1e-3)
    assert prepare_image(loaded, size=SIZE).segmentation == "plain-background"


def test_opaque_alpha_falls_back_to_plain_background(tmp_path):
    path = tmp_path / "opaque.png"
    Image.fromarray(_scene(), "RGB").convert("RGBA").save(path)
    prepared = prepare_image(path, size=SIZE)
    assert prepared.segmentation == "plain-background"
    assert any("fell back" in n for n in prepared.notes) or segmentation.rembg_ready()


@pytest.mark.parametrize("shape", [(8, 200), (9000, 20)])
def test_absurd_sizes_are_refused_with_a_hint(tmp_path, shape):
    path = tmp_path / "odd.png"
    Image.new("L", (shape[1], shape[0]), 255).save(path)
    with pytest.raises(PriorInputError) as info:
        load_image(path)
    assert "pixels" in info.value.message and "between" in info.value.hint


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not an image at all")
    with pytest.raises(PriorInputError, match="cannot read broken.png"):
        load_image(bad)
    with pytest.raises(PriorInputError, match="not found"):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("kind", ["transparent", "blank"])
def test_image_without_object_is_refused(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    if kind == "transparent":
        Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(path)
    else:
        Image.new("RGB", (64, 64), (30, 60, 90)).save(path)
    with pytest.raises(PriorInputError, match="no object") as info:
        prepare_image(path, size=SIZE)
    assert info.value.hint


def test_rembg_explicitly_asked_without_it_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))  # no model file there: never downloads
    monkeypatch.setenv("LATENTDREAMER_MODELS", str(tmp_path / "models"))
    rgba = np.ones((32, 32, 4), np.float32)
    with pytest.raises(PriorInputError) as info:
        segmentation.segment(rgba, False, method="rembg")
    assert "rembg" in info.value.message
    if importlib.util.find_spec("rembg") is None:
        assert "pip install rembg" in info.value.hint
    else:  # installed (the segmentation extra): the model is what is missing
        assert "weights download background-removal" in info.value.hint


@pytest.mark.parametrize("fill", [0.5, 1.0])
def test_the_framing_setting_sets_the_objects_share_of_the_square(tmp_path, fill):
    path = tmp_path / "photo.png"
    Image.fromarray(_scene()).save(path)
    _, _, side = _object_box(prepare_image(path, size=SIZE, fill=fill, segmentation="plain"))
    assert abs(side - fill * SIZE) <= 2


@pytest.mark.parametrize("fill", [0.1, 1.5, True, "0.8"])
def test_a_framing_outside_its_range_is_refused_with_the_allowed_range(tmp_path, fill):
    path = tmp_path / "photo.png"
    Image.fromarray(_scene()).save(path)
    with pytest.raises(PriorInputError, match="from 0.3 to 1.0"):
        prepare_image(path, size=SIZE, fill=fill, segmentation="plain")


def test_the_view_scale_note_reads_the_silhouettes():
    import trimesh

    from latentdreamer.geometry.mesh import Mesh
    from latentdreamer.pipeline.oracle_views import render_mesh_views
    from latentdreamer.priors.provider import view_scale_note

    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.35)
    alpha = render_mesh_views(Mesh(ball.vertices, ball.faces), resolution=96).alpha
    assert view_scale_note(alpha, OBJECT_FILL).startswith("object scale in the views: 0.70 of the assumed")
