"""docs/protocol.md against the code: every documented message is one the code accepts or produces."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from latentdreamer.locations import Locations
from latentdreamer.worker.environment import DeviceReport, hello_event, shape_weights_status
from latentdreamer.worker.protocol import (
    ERROR_CODES,
    EVENT_FIELDS,
    PROTOCOL_VERSION,
    REQUEST_TYPES,
    TERMINAL_EVENTS,
    RequestError,
    encode_event,
    make_event,
    parse_line,
)
from latentdreamer.worker.server import add_arguments

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
CLIENT = Path(__file__).resolve().parents[3] / "latentdreamer_addon" / "client" / "backend_client.py"
CLIENT_CODES = {"worker_died", "bad_event"}
OPTIONAL_FIELDS = {"device": {"error"}, "error": {"exit_code"}, "views": {"condition", "colour_grid", "normal_grid"}}


def documented() -> list[dict]:
    text = DOC.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_every_request_and_event_type_is_documented_with_an_example():
    types = {m["type"] for m in documented()}
    assert set(REQUEST_TYPES) | set(EVENT_FIELDS) == types


def test_documented_requests_are_accepted():
    for message in documented():
        if message["type"] in REQUEST_TYPES:
            request = parse_line(json.dumps(message))
            assert (request.type, request.id) == (message["type"], message["id"])


def test_documented_events_have_exactly_the_fields_the_code_sends():
    for message in documented():
        kind = message["type"]
        if kind in REQUEST_TYPES:
            continue
        fields = set(message) - {"type", "id"}
        required = set(EVENT_FIELDS[kind]) - {"id"}
        assert required <= fields <= required | OPTIONAL_FIELDS.get(kind, set()), kind
        encode_event(make_event(kind, message["id"], **{k: message[k] for k in required}))
        if kind == "error":
            assert message["code"] in set(ERROR_CODES) | CLIENT_CODES


def test_hello_and_device_as_the_worker_builds_them_match_the_docs(tmp_path):
    examples = {m["type"]: m for m in documented()}
    hello = hello_event(tmp_path, tmp_path / "worker.log", 8, {"inputs": ["views"], "pipeline": False}, Locations())
    assert hello["protocol"] == PROTOCOL_VERSION
    assert set(hello) == set(examples["hello"])
    assert set(hello["capabilities"]) == set(examples["hello"]["capabilities"])
    sent = []
    DeviceReport(sent.append).report()
    assert len(sent) == 1 and set(sent[0]) == set(examples["device"])
    assert sent[0]["device"]["type"] in ("cpu", "cuda") and sent[0]["torch"].startswith("2.")
    assert 0 < sent[0]["free_bytes"] <= sent[0]["total_bytes"]  # the GPU's, or on a CPU the host's


def test_hello_looks_for_the_shape_models_where_the_pipeline_loads_them(monkeypatch, tmp_path):
    from latentdreamer.models.lin import DEFAULT_LIN_WEIGHTS
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS

    status = shape_weights_status(Locations.from_environment({}))
    assert (status["sae"]["path"], status["lin"]["path"]) == (str(DEFAULT_SAE_WEIGHTS), str(DEFAULT_LIN_WEIGHTS))
    assert status["sae"]["present"] == DEFAULT_SAE_WEIGHTS.exists() and status["sae"]["error"] is None
    mine = tmp_path / "sae.safetensors"
    mine.write_bytes(b"")
    # Present on disk but not usable (no card, no matching checksum): hello says so, as a job would.
    sae = shape_weights_status(Locations.from_environment({"LATENTDREAMER_SAE_WEIGHTS": str(mine)}))["sae"]
    assert (sae["present"], sae["path"], sae["source"], sae["licence"]) == (False, str(mine), "env", None)
    assert str(mine.with_suffix(".json")) in sae["error"] and "LATENTDREAMER_SAE_WEIGHTS" in sae["error"]


def test_every_error_code_is_in_the_docs_table_and_nowhere_invented():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### error") : text.index("### pong")]
    table = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    assert table == set(ERROR_CODES) | CLIENT_CODES
    client = CLIENT.read_text(encoding="utf-8")
    for code in CLIENT_CODES:
        assert f'"{code}"' in client


def test_every_worker_option_is_in_the_docs_table():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = {a.option_strings[0] for a in parser._actions if a.option_strings and a.option_strings[0] != "-h"}
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| option |") : text.index("A client must read")]
    assert set(re.findall(r"^\| `(--[a-z-]+)", table, re.M)) == options


def test_client_and_worker_agree_on_version_and_terminal_events():
    client = CLIENT.read_text(encoding="utf-8")
    assert f"PROTOCOL_VERSION = {PROTOCOL_VERSION}\n" in client
    terminal = re.search(r"TERMINAL_EVENTS = frozenset\(\{(.*?)\}\)", client).group(1)
    assert set(re.findall(r'"(\w+)"', terminal)) == set(TERMINAL_EVENTS)


def test_events_are_strict_json_even_with_unknown_eta():
    line = encode_event(make_event("progress", "g", stage="s", step=1, total=2, fraction=0.5, eta_s=float("inf"), message="é"))
    assert json.loads(line)["eta_s"] is None and line.endswith("\n") and line.count("\n") == 1


def test_unknown_error_codes_cannot_be_raised():
    with pytest.raises(AssertionError):
        RequestError("oops", "message")


def test_shape_prior_names_the_checkpoint_meta_file_without_importing_torch():
    from latentdreamer.models.checkpoint import META
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS
    from latentdreamer.pipeline.shape_prior import PACKAGE_WEIGHTS, RUN_META

    assert RUN_META == META and DEFAULT_SAE_WEIGHTS.parent == PACKAGE_WEIGHTS
