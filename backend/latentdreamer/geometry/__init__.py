"""Geometry stage: random shapes, signed distance grids, FlexiCubes extraction, subdivision."""
