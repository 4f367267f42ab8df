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

PRESET_ITEMS = [
    ("tiny", "Tiny", "Seconds; for tests and trying the set-up"),
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
            ("VIEWS", "Six Views", "Your own six views as a 3x2 grid image (skips the multi-view prior)"),
        ],
        default="DATABLOCK",
    )
    image: PointerProperty(name="Image", type=bpy.types.Image)
    filepath: StringProperty(name="File", subtype="FILE_PATH", options=_PATH_OPTIONS)
    views_grid: StringProperty(name="Views", subtype="FILE_PATH", options=_PATH_OPTIONS,
                               description="3x2 grid of the six views in Zero123++ camera order")
    normals_grid: StringProperty(name="Normals", subtype="FILE_PATH", options=_PATH_OPTIONS,
                                 description="Optional 3x2 grid of the six normal maps")
    preset: EnumProperty(name="Quality", items=PRESET_ITEMS, default="standard")
    device: EnumProperty(
        name="Device",
        items=[("auto", "Auto", "The GPU when there is one"), ("cuda", "GPU (CUDA)", ""), ("cpu", "CPU", "")],
        default="auto",
    )
    seed: IntProperty(name="Seed", default=0, min=0)
    texture: BoolProperty(name="Texture", default=True, description="Optimise vertex colours")
    live_preview: BoolProperty(name="Live Preview", default=True, description="Show the mesh as it forms")
    target_size: FloatProperty(name="Size", default=1.0, min=0.0, unit="LENGTH",
                               description="Longest side of the result (0 keeps the backend's size)")
    face_budget: IntProperty(name="Face Budget", default=0, min=0,
                             description="Decimate to at most this many faces (0: off)")
    sculpt_remesh: BoolProperty(name="Sculpt-Ready Remesh", default=False,
                                description="Voxel-remesh the result, keeping its colours")
    voxel_size: FloatProperty(name="Voxel Size", default=0.01, min=0.0005, unit="LENGTH", precision=4)


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
