"""What both fresh-profile scripts check, imported from beside them (they are copied out of
the repository together, so nothing of the source tree is importable)."""

from __future__ import annotations


def fail(message: str) -> None:
    raise SystemExit(f"CHECK FAILED: {message}")


def assert_source_tree_hidden() -> None:
    """The add-on must stand on the zip alone: its source-tree package must not import."""
    try:
        import latentdreamer_addon  # noqa: F401
    except ImportError:
        return
    fail("latentdreamer_addon is importable from this interpreter")


def mesh_report(obj) -> dict:
    """Manifold, coloured, and where it stands, for one generated object (call after bpy loaded)."""
    import bmesh
    from mathutils import Vector

    bm = bmesh.new()
    bm.from_mesh(obj.data)
    non_manifold = sum(1 for e in bm.edges if not e.is_manifold)
    boundary = sum(1 for e in bm.edges if e.is_boundary)
    bm.free()
    colours = obj.data.color_attributes.get("Color")
    distinct = len({tuple(round(c, 2) for c in d.color_srgb) for d in colours.data}) if colours is not None else 0
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    return {
        "name": obj.name,
        "faces": len(obj.data.polygons),
        "vertices": len(obj.data.vertices),
        "non_manifold_edges": non_manifold,
        "boundary_edges": boundary,
        "colour_attribute": colours is not None,
        "distinct_colours": distinct,
        "location": list(obj.location),
        "min_z": min(c.z for c in corners),
        "centre_xy": [sum(c.x for c in corners) / 8, sum(c.y for c in corners) / 8],
        "materials": [m.name for m in obj.data.materials if m is not None],
    }
