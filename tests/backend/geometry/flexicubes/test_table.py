import numpy as np

from latentdreamer.geometry.flexicubes.table import EDGES, MAX_GROUPS, case_table, face_corners


def crossing_edges(case: int) -> np.ndarray:
    inside = np.array([(case >> c) & 1 for c in range(8)], dtype=bool)
    return inside[EDGES[:, 0]] != inside[EDGES[:, 1]]


def partition(groups: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(groups == g).tolist()) for g in range(groups.max() + 1)}


def mirror(axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner and edge permutations of the cube mirrored along `axis`."""
    corners = np.array([c ^ (1 << axis) for c in range(8)])
    lookup = {frozenset(e.tolist()): i for i, e in enumerate(EDGES)}
    edges = np.array([lookup[frozenset(corners[e].tolist())] for e in EDGES])
    return corners, edges


def test_groups_cover_exactly_the_sign_changing_edges():
    t = case_table()
    for case in range(256):
        assert np.array_equal(t.edge_group[case] >= 0, crossing_edges(case)), case
        used = np.unique(t.edge_group[case][t.edge_group[case] >= 0])
        assert np.array_equal(used, np.arange(t.num_groups[case])), case


def test_known_cases():
    t = case_table()
    assert t.num_groups[0] == t.num_groups[255] == 0
    for c in range(8):  # one corner in (or out): one triangle-like sheet of three crossings
        for case in (1 << c, 255 - (1 << c)):
            assert t.num_groups[case] == 1 and (t.edge_group[case] == 0).sum() == 3
    for case in (0b01101001, 0b10010110):  # two interleaved tetrahedra: four isolated corners
        assert t.num_groups[case] == MAX_GROUPS
    assert t.num_groups.max() == MAX_GROUPS
    assert t.num_groups[0b00001111] == 1  # half cube: one flat sheet over four edges


def test_every_sheet_is_a_cycle_of_at_least_three_crossings():
    t = case_table()
    for case in range(1, 255):
        for group in partition(t.edge_group[case]):
            assert len(group) >= 3, (case, group)


def test_table_is_invariant_under_mirroring():
    t = case_table()
    for axis in range(3):
        corners, edges = mirror(axis)
        for case in range(256):
            image = sum(1 << int(corners[c]) for c in range(8) if (case >> c) & 1)
            mapped = {frozenset(int(edges[e]) for e in g) for g in partition(t.edge_group[case])}
            assert mapped == partition(t.edge_group[image]), (axis, case)


def test_unambiguous_cases_share_their_grouping_with_the_complement():
    t = case_table()
    for case in range(256):
        if not ambiguous_faces(case):
            assert partition(t.edge_group[case]) == partition(t.edge_group[255 - case]), case


def ambiguous_faces(case: int) -> list[int]:
    """Faces whose inside corners lie on one diagonal (all four face edges change sign)."""
    faces = []
    for f in range(6):
        a, b, c, d = ((case >> corner) & 1 for corner in face_corners(f))  # corners in z-order: a-d, b-c diagonals
        if a == d and b == c and a != b:
            faces.append(f)
    return faces


def test_ambiguous_face_marks_one_sheet_cases_with_exactly_one_ambiguous_face():
    t = case_table()
    for case in range(256):
        faces = ambiguous_faces(case)
        expected = faces[0] if t.num_groups[case] == 1 and len(faces) == 1 else -1
        assert t.ambiguous_face[case] == expected, case
        if expected >= 0:  # the complement pairs that face the other way and splits the sheet
            assert t.num_groups[255 - case] == 2, case
