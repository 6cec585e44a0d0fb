"""The check every ``--json`` document of the CLI passes: ``docs/cli-json.schema.json``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "cli-json.schema.json"


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def checked_document(text: str) -> Any:
    """``text`` parsed as the one JSON document on stdout, after checking it against the schema."""
    document = json.loads(text)
    errors = sorted(_validator().iter_errors(document), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return document
