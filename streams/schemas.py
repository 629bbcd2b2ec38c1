"""JSON Schema files for every record, generated from the msgspec models, so
non-Python consumers can validate what they read (``scanflow schemas``)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from streams.records import RECORD_TYPES


def record_schema(name: str) -> dict:
    """JSON Schema (draft 2020-12) of one record type."""
    cls = RECORD_TYPES[name]
    schema = msgspec.json.schema(cls)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"scanflow {name}"
    return schema


def write_schemas(out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RECORD_TYPES:
        path = out / f"{name.lower()}.schema.json"
        path.write_text(json.dumps(record_schema(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
