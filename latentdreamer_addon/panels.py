"""The 3D Viewport sidebar tab "LatentDreamer": inputs, Generate, progress, views, results, backend.

Panels only read state (scene settings, the window manager's status, the session's facts);
all changes happen in operators and in `operators.poll_jobs` on the main thread.
"""

from __future__ import annotations

import textwrap

import bpy
import bpy.utils.previews

from . import operators, preferences, progress_text, session

_thumbnails = None  # bpy.utils.previews collection of the six generated views


def _thumbnail(path: str) -> int:
    if _thumbnails is None:
        return 0
    if path not in _thumbnails:
        _thumbnails.load(path, path, "IMAGE")
    return _thumbnails[path].icon_id


def wrap_width(region_width: float | None, ui_scale: float | None) -> int:
    """Characters per line for a sidebar this wide; in background mode there is no region and
    the UI scale can read 0, which must not divide."""
    scale = ui_scale if ui_scale and ui_scale > 0 else 1.0
    width = region_width if region_width and region_width > 0 else 300
    return max(20, int(width / (7 * scale)))


def _wrapped(layout, context, text: str, icon: str = "NONE") -> None:
    """Labels do not wrap; long worker messages are split to the sidebar's width."""
    region = getattr(context, "region", None)
    chars = wrap_width(region.width if region else None, context.preferences.system.ui_scale)
    for i, line in enumerate(textwrap.wrap(text, chars) or [""]):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1")


NEEDS_PRIOR = ("DATABLOCK", "EDITOR", "FILE", "PROMPT")
"""Sources that go through the multi-view prior (Zero123++), whose weights are a download."""


def missing_models(source: str, weights: dict) -> list[str]:
    """The models the chosen source needs that the worker does not report present; all of
    them while the worker has not said (it starts on the first Generate)."""
    if source not in NEEDS_PRIOR:
        return []
    names = ["zero123plus", "normal-controlnet"] + (["text-to-image"] if source == "PROMPT" else [])

    def present(name: str) -> bool:
        model = weights.get(name)
        return bool(model.get("present")) if isinstance(model, dict) else bool(model)

    return [n for n in names if not present(n)]


class LatentDreamerPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "LatentDreamer"


class VIEW3D_PT_latentdreamer(LatentDreamerPanel, bpy.types.Panel):
    bl_label = "LatentDreamer"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.latentdreamer
        status = context.window_manager.latentdreamer
        if session.current() is None and not bpy.app.timers.is_registered(operators.prestart_backend):
            # The artist is looking at the panel: warm the backend up while they choose.
            bpy.app.timers.register(operators.prestart_backend, first_interval=0.1)

        col = layout.column()
        col.enabled = not status.running
        col.prop(settings, "image_source", text="Source")
        if settings.image_source == "DATABLOCK":
            col.template_ID(settings, "image", open="image.open")
        elif settings.image_source == "FILE":
            col.prop(settings, "filepath")
        elif settings.image_source == "PROMPT":
            col.prop(settings, "prompt")
            col.label(text="Text model: Stable Diffusion 2.1, CreativeML Open RAIL++-M", icon="INFO")
        elif settings.image_source == "VIEWS":
            col.prop(settings, "views_layout")
            if settings.views_layout == "FILES":
                col.prop(settings, "views_folder")
            else:
                col.prop(settings, "views_grid")
                col.prop(settings, "normals_grid")
        sess = session.current()
        weights = (sess.info.get("weights") or {}) if sess is not None else {}
        missing = missing_models(settings.image_source, weights)
        if missing and not status.running:
            box = col.box()
            known = sess is not None and bool(sess.info)
            first = (
                "Needs model weights the backend does not have: " + ", ".join(missing)
                if known
                else "This source needs the Zero123++ weights (about 9 GB download, CC-BY-NC 4.0, "
                "non-commercial)" + (" and the text model (about 8 GB)" if "text-to-image" in missing else "")
            )
            _wrapped(box.column(align=True), context, first, "ERROR" if known else "INFO")
            _wrapped(
                box.column(align=True),
                context,
                "Get them in Preferences > Add-ons > LatentDreamer: Download Models"
                + (" and Download Text → 3D Model" if "text-to-image" in missing else "")
                + ", or choose Six Views to bring your own.",
                "BLANK1",
            )
        col.prop(settings, "preset")
        col.prop(settings, "device")
        col.prop(settings, "seed")
        col.prop(settings, "texture")
        col.prop(settings, "live_preview")
        col.prop(settings, "origin_bottom")

        if status.running:
            text = progress_text.stage_label(status.stage) or status.message or "Working"
            if status.total:
                text += f" {status.step}/{status.total}"
            eta = progress_text.eta_text(status.eta)
            if eta:
                text += f" — {eta}"
            layout.progress(factor=status.progress, type="BAR", text=text)  # Blender 4.0+
            if status.message and status.message != status.stage:
                _wrapped(layout.column(align=True), context, status.message)
            layout.operator("latentdreamer.cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.5
            row.operator("latentdreamer.generate", icon="MESH_MONKEY")

        if status.views:
            grid = layout.grid_flow(columns=3, even_columns=True, even_rows=True, align=True)
            for view in status.views:
                grid.template_icon(icon_value=_thumbnail(view.path), scale=3.0)

        if not status.running and status.stats:
            box = layout.box()
            box.label(text=status.object_name or "Result", icon="CHECKMARK")
            for part in status.stats.split(", "):
                box.label(text=part)
        elif not status.running and status.message and not status.error:
            _wrapped(layout.box().column(align=True), context, status.message, "INFO")  # e.g. after a cancel
        if status.error:
            box = layout.box()
            box.alert = True
            _wrapped(box.column(align=True), context, status.error, "ERROR")
            if status.hint:
                _wrapped(box.column(align=True), context, status.hint, "INFO")


class VIEW3D_PT_latentdreamer_mesh(LatentDreamerPanel, bpy.types.Panel):
    bl_label = "Mesh"
    bl_parent_id = "VIEW3D_PT_latentdreamer"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.latentdreamer
        layout.prop(settings, "target_size")
        layout.prop(settings, "face_budget")
        layout.prop(settings, "sculpt_remesh")
        row = layout.row()
        row.active = settings.sculpt_remesh
        row.prop(settings, "voxel_size")
        layout.prop(settings, "quad_remesh")
        row = layout.row()
        row.active = settings.quad_remesh
        row.prop(settings, "quad_faces")


class VIEW3D_PT_latentdreamer_backend(LatentDreamerPanel, bpy.types.Panel):
    bl_label = "Backend"
    bl_parent_id = "VIEW3D_PT_latentdreamer"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        sess = session.current()
        alive = sess is not None and sess.alive
        layout.label(text="Worker running" if alive else "Worker stopped", icon="CHECKMARK" if alive else "X")
        if sess is not None and sess.info:
            info = sess.info
            layout.label(text=f"Device: {info.get('device') or info.get('torch') or '?'}")
            weights = info.get("weights") or {}
            if not weights:
                layout.label(text="Weights: the backend reports none", icon="ERROR")
            for name, model in weights.items():
                present = bool(model.get("present")) if isinstance(model, dict) else bool(model)
                layout.label(text=f"{name}: {'present' if present else 'missing'}", icon="CHECKMARK" if present else "ERROR")
        py = preferences.worker_python(context)
        layout.label(text=f"Python: {py}" if py else "Backend not installed (see Preferences)")
        layout.operator("latentdreamer.release_backend", icon="X")


CLASSES = (VIEW3D_PT_latentdreamer, VIEW3D_PT_latentdreamer_mesh, VIEW3D_PT_latentdreamer_backend)


def register() -> None:
    global _thumbnails
    _thumbnails = bpy.utils.previews.new()
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    global _thumbnails
    if bpy.app.timers.is_registered(operators.prestart_backend):
        bpy.app.timers.unregister(operators.prestart_backend)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    if _thumbnails is not None:
        bpy.utils.previews.remove(_thumbnails)
    _thumbnails = None
