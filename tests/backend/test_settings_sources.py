"""One source for preset names and user settings: the backend's `GenerateSettings` and
`PRESETS`. The protocol's settings, the CLI's help and the add-on's copies (which cannot
import the backend) are checked against it here, so a new setting or preset cannot reach
one side only."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from latentdreamer.api import PRESETS, GenerateSettings
from latentdreamer.worker.protocol import SETTINGS_TYPES

ADDON = Path(__file__).resolve().parents[2] / "latentdreamer_addon"


def _tree(name: str) -> ast.Module:
    return ast.parse((ADDON / name).read_text(encoding="utf-8"))


def test_the_protocol_settings_are_the_settings_fields():
    fields = {f.name: f.type for f in dataclasses.fields(GenerateSettings)}
    assert set(SETTINGS_TYPES) == set(fields)


def test_the_add_ons_presets_are_the_backends_minus_the_test_one():
    (assign,) = [
        n
        for n in ast.walk(_tree("properties.py"))
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PRESET_ITEMS" for t in n.targets)
    ]
    offered = [ast.literal_eval(item)[0] for item in assign.value.elts]
    assert offered == [p for p in PRESETS if p != "tiny"]


def test_the_add_ons_requests_carry_only_real_settings():
    """`operators.job_settings` and `batch.generate_images` build the request's settings."""
    keys = set()
    for name, function in (("operators.py", "job_settings"), ("batch.py", "generate_images")):
        (fn,) = [n for n in ast.walk(_tree(name)) if isinstance(n, ast.FunctionDef) and n.name == function]
        for node in ast.walk(fn):
            if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys) and node.keys:
                found = {k.value for k in node.keys}
                if "preset" in found:
                    keys |= found
    assert keys and keys <= set(SETTINGS_TYPES), keys - set(SETTINGS_TYPES)
    assert {"preset", "device", "seed", "texture"} <= keys
