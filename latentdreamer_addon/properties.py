"""Scene settings (saved with the .blend) and window-manager run state (never saved).

Progress changes many times a second; keeping it on the WindowManager keeps it out of the
file and out of the undo stack, so undoing an import cannot rewind the progress bar.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

# Blender 4.5 warns about "//" paths unless a path property says it understands them;
# older versions do not know the option.
_PATH_OPTIONS = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else set()

# The panel offers the artist's presets; the backend's test-only `tiny` is reachable from
# scripts (`bpy.ops.latentdreamer.generate(preset="tiny")`, `batch.generate_images(preset=...)`).
PRESET_ITEMS = [
    ("draft", "Draft", "Fast, coarse"),
    ("standard", "Standard", "The usual balance of time and quality"),
    ("high", "High", "Slowest, finest"),
]


class LatentDreamerSettings(bpy.types.PropertyGroup):
    image_source: EnumProperty(
        name="Image",
        items=[
            ("DATABLOCK", "Image", "An image in this file"),
            ("EDITOR", "Image Editor", "The image shown in an Image Editor"),
            ("FILE", "File", "An image file on disk"),
            (
                "PROMPT",
                "Text",
                "Describe the object; an image is made from the text first (Stable Diffusion 2.1, CreativeML Open RAIL++-M)",
            ),
            (
                "VIEWS",
                "Six Views",
                "Your own six views (skips the multi-view prior): one grid image of two "
                "columns by three rows, or a folder of six files",
            ),
        ],
        default="DATABLOCK",
    )
    image: PointerProperty(name="Image", type=bpy.types.Image)
    filepath: StringProperty(name="File", subtype="FILE_PATH", options=_PATH_OPTIONS)
    prompt: StringProperty(name="Prompt", description="One object, e.g. 'a red ceramic teapot'")
    views_layout: EnumProperty(
        name="Layout",
        items=[
            ("GRID", "Grid Image", "One image, two columns by three rows: view k at row k // 2, column k % 2"),
            (
                "FILES",
                "Six Files",
                "A folder with six view images (and optionally six normal maps whose names "
                "contain 'normal'), taken in name order",
            ),
        ],
        default="GRID",
    )
    views_grid: StringProperty(
        name="Views",
        subtype="FILE_PATH",
        options=_PATH_OPTIONS,
        description="The six views as one grid image, two columns by three rows "
        "(640 wide by 960 high for 320-pixel views), in camera order",
    )
    normals_grid: StringProperty(
        name="Normals",
        subtype="FILE_PATH",
        options=_PATH_OPTIONS,
        description="Optional: the six normal maps as a grid of the same layout",
    )
    views_folder: StringProperty(
        name="Folder",
        subtype="DIR_PATH",
        options=_PATH_OPTIONS,
        description="Six view images in camera order by name (e.g. rgb_0.png ... "
        "rgb_5.png), optionally six normal maps named with 'normal'",
    )
    preset: EnumProperty(name="Quality", items=PRESET_ITEMS, default="standard")
    device: EnumProperty(
        name="Device",
        items=[
            ("auto", "Auto", "The GPU when there is one (NVIDIA CUDA, else Apple MPS), else the CPU"),
            ("cuda", "GPU (CUDA)", "An NVIDIA GPU"),
            ("mps", "GPU (Apple MPS)", "Apple silicon or a Metal GPU"),
            ("cpu", "CPU", ""),
        ],
        default="auto",
    )
    seed: IntProperty(name="Seed", default=0, min=0)
    texture: BoolProperty(
        name="Texture", default=True, description="Colour the mesh from the views (off: geometry only, a plain clay material)"
    )
    live_preview: BoolProperty(name="Live Preview", default=True, description="Show the mesh as it forms")
    target_size: FloatProperty(
        name="Size", default=1.0, min=0.0, unit="LENGTH", description="Longest side of the result (0 keeps the backend's size)"
    )
    origin_bottom: BoolProperty(
        name="Stand on Cursor",
        default=True,
        description="Put the origin at the bottom centre, so the object stands on the 3D cursor instead of half below it",
    )
    face_budget: IntProperty(name="Face Budget", default=0, min=0, description="Decimate to at most this many faces (0: off)")
    sculpt_remesh: BoolProperty(
        name="Sculpt-Ready Remesh", default=False, description="Voxel-remesh the result, keeping its colours"
    )
    voxel_size: FloatProperty(name="Voxel Size", default=0.01, min=0.0005, unit="LENGTH", precision=4)
    quad_remesh: BoolProperty(
        name="Quad Remesh",
        default=False,
        description="QuadriFlow all-quad remesh for sculpting and retopology, keeping the colours",
    )
    quad_faces: IntProperty(
        name="Quad Faces", default=5000, min=100, soft_max=100000, description="About how many quads QuadriFlow makes"
    )


class LatentDreamerViewPath(bpy.types.PropertyGroup):
    path: StringProperty()


class LatentDreamerStatus(bpy.types.PropertyGroup):
    """Mirror of the current job for the panel; written only on the main thread."""

    running: BoolProperty()
    progress: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")
    stage: StringProperty()
    step: IntProperty()
    total: IntProperty()
    eta: FloatProperty(default=-1.0)
    message: StringProperty()
    error: StringProperty()
    hint: StringProperty()
    stats: StringProperty()
    object_name: StringProperty()
    log_path: StringProperty()
    views: CollectionProperty(type=LatentDreamerViewPath)
    # Backend sub-panel.
    worker_alive: BoolProperty()
    worker_device: StringProperty()
    weights_present: StringProperty()
    setup_state: StringProperty()
    setup_label: StringProperty()
    setup_progress: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")
    setup_error: StringProperty()


CLASSES = (LatentDreamerSettings, LatentDreamerViewPath, LatentDreamerStatus)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.latentdreamer = PointerProperty(type=LatentDreamerSettings)
    bpy.types.WindowManager.latentdreamer = PointerProperty(type=LatentDreamerStatus)


def unregister() -> None:
    del bpy.types.WindowManager.latentdreamer
    del bpy.types.Scene.latentdreamer
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
