"""The layout issue 15 set: the core (`redactor`) depends on no door (REST service, watched
folder, evaluation) and none of their stacks, and its data comes from inside the package."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from conftest import ROOT

DOORS = ("api", "watchfolder", "evaluation")
SERVICE_STACKS = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "boto3", "watchdog")


def _modules_after(code: str) -> set[str]:
    """sys.modules of a fresh interpreter (outside the source tree) after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT.parent
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".", 1)[0] for m in modules}


def test_importing_the_core_and_its_pipeline_loads_no_service_stack() -> None:
    modules = _modules_after("import redactor\nimport redactor.pipeline")
    assert "redactor.pipeline" in modules  # the probe really imported it
    loaded = _top_level(modules)
    assert not loaded & set(SERVICE_STACKS), sorted(loaded & set(SERVICE_STACKS))
    assert not loaded & set(DOORS), sorted(loaded & set(DOORS))


def test_building_the_command_line_loads_no_service_stack() -> None:
    # The doors' command modules are imported to build `redactor --help`: they must stay light.
    loaded = _top_level(_modules_after("import redactor.cli\nredactor.cli.build_parser()"))
    assert {"api", "watchfolder", "evaluation"} <= loaded  # found through the entry points
    assert not loaded & set(SERVICE_STACKS), sorted(loaded & set(SERVICE_STACKS))


def test_no_core_module_imports_a_door_even_lazily() -> None:
    offenders = []
    for path in sorted((ROOT / "redactor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in DOORS + SERVICE_STACKS]
    assert offenders == []


def test_document_table_is_read_from_the_package_not_the_source_tree() -> None:
    from importlib.resources import files

    from redactor.resources import model_json

    table = model_json("documents.json")
    assert table == json.loads((ROOT / "models" / "documents.json").read_text())
    assert "NLD/TD3" in table["layouts"]
    # Package data of redactor.models: what `pip install .` ships next to the code.
    assert json.loads(files("redactor.models").joinpath("documents.json").read_text()) == table


def test_every_model_file_is_package_data() -> None:
    from importlib.resources import files

    shipped = sorted(p.name for p in files("redactor.models").iterdir() if p.name.endswith(".json"))
    assert shipped == sorted(p.name for p in (ROOT / "models").glob("*.json")) and shipped
