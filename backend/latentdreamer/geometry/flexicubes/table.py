"""The dual-marching-cubes case table, generated from its rule instead of stored.

Dual marching cubes places one vertex per connected sheet of surface inside a cube. Which
sign-changing edges feed the same vertex follows from one rule on the cube's faces: two
crossings on a face with exactly two crossings belong to the same sheet; on an ambiguous
face (four crossings, inside corners on one diagonal) each inside corner's two crossings
belong together, so inside corners stay separated on the face. Because the rule looks only
at a face's own signs, the two cubes sharing a face always agree, which is what makes the
extracted surface closed. Connected components of these links are the dual vertices.

Cube corner c sits at offset (c & 1, c >> 1 & 1, c >> 2 & 1) along (x, y, z); the case id of
a cube is the sum of 2**c over its inside corners. Edges are numbered in the order of the
FlexiCubes reference so that per-edge weights (beta) mean the same thing as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CORNER_OFFSETS: np.ndarray = np.array([(c & 1, c >> 1 & 1, c >> 2 & 1) for c in range(8)], dtype=np.int64)
"""(8, 3) offset of each cube corner from the cube's lowest corner, in grid steps."""

EDGES: np.ndarray = np.array(
    [(0, 1), (1, 5), (4, 5), (0, 4), (2, 3), (3, 7), (6, 7), (2, 6), (2, 0), (3, 1), (7, 5), (6, 4)],
    dtype=np.int64,
)
"""(12, 2) the cube's edges as corner pairs, in the reference order."""

MAX_GROUPS = 4
"""No case has more than four separate sheets (the checkerboard case has exactly four)."""


def edge_axis(edge: int) -> int:
    """Axis (0 = x, 1 = y, 2 = z) an edge runs along: the one bit its corners differ in."""
    a, b = EDGES[edge]
    return int(a ^ b).bit_length() - 1


def edge_index(a: int, b: int) -> int:
    """Local index of the edge joining corners a and b, in either order."""
    for e, (p, q) in enumerate(EDGES):
        if {int(p), int(q)} == {a, b}:
            return e
    raise ValueError(f"corners {a} and {b} are not joined by a cube edge")


def face_corners(face: int) -> list[int]:
    """Corners on face `face` = 2 * axis + side (side 0: offset 0 along axis, side 1: offset 1)."""
    axis, side = divmod(face, 2)
    return [c for c in range(8) if CORNER_OFFSETS[c, axis] == side]


def face_edges(face: int) -> list[int]:
    corners = set(face_corners(face))
    return [e for e in range(12) if set(EDGES[e].tolist()) <= corners]


@dataclass(frozen=True)
class CaseTable:
    """Everything extraction needs to know per case id (0..255)."""

    edge_group: np.ndarray
    """(256, 12) int64: dual vertex (0..3) an edge's crossing feeds in that case; -1 if no crossing."""
    num_groups: np.ndarray
    """(256,) int64: dual vertices in the cube."""
    ambiguous_face: np.ndarray
    """(256,) int64: for cases with exactly one dual vertex and exactly one ambiguous face, that
    face (2 * axis + side); -1 otherwise. Two such cubes meeting on their ambiguous faces would
    join four sheets at one edge of the mesh; extraction flips both to the complementary case."""


def _case_groups(case: int) -> tuple[np.ndarray, int, list[int]]:
    inside = [(case >> c) & 1 == 1 for c in range(8)]
    crossing = [inside[a] != inside[b] for a, b in EDGES]
    parent = list(range(12))

    def find(e: int) -> int:
        while parent[e] != e:
            parent[e] = parent[parent[e]]
            e = parent[e]
        return e

    def link(e: int, f: int) -> None:
        parent[find(e)] = find(f)

    ambiguous = []
    for face in range(6):
        crossed = [e for e in face_edges(face) if crossing[e]]
        if len(crossed) == 2:
            link(*crossed)
        elif len(crossed) == 4:
            ambiguous.append(face)
            for c in face_corners(face):
                if inside[c]:
                    link(*[e for e in crossed if c in EDGES[e]])

    groups = np.full(12, -1, dtype=np.int64)
    roots: list[int] = []
    for e in range(12):  # numbering sheets by their lowest edge keeps the table deterministic
        if crossing[e]:
            r = find(e)
            if r not in roots:
                roots.append(r)
            groups[e] = roots.index(r)
    return groups, len(roots), ambiguous


@lru_cache(maxsize=1)
def case_table() -> CaseTable:
    """Build the table once per process (a few milliseconds)."""
    edge_group = np.full((256, 12), -1, dtype=np.int64)
    num_groups = np.zeros(256, dtype=np.int64)
    ambiguous_face = np.full(256, -1, dtype=np.int64)
    for case in range(256):
        groups, count, ambiguous = _case_groups(case)
        edge_group[case] = groups
        num_groups[case] = count
        if count == 1 and len(ambiguous) == 1:
            ambiguous_face[case] = ambiguous[0]
    for array in (edge_group, num_groups, ambiguous_face):
        array.setflags(write=False)
    return CaseTable(edge_group, num_groups, ambiguous_face)
