"""The one way to read the data files in models/ (installed as the package `redactor.models`),
so a plain `pip install .` works the same as a source checkout."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any


def model_json(name: str) -> Any:
    """Parse models/NAME, e.g. model_json("documents.json")."""
    return json.loads(files("redactor.models").joinpath(name).read_text(encoding="utf-8"))


def model_path(name: str) -> Path:
    """models/NAME as a file path, for libraries that open files themselves (onnxruntime)."""
    return Path(str(files("redactor.models").joinpath(name)))
