"""Only the product in the install: the base dependencies are what `bot/` imports, and importing
the product pulls in none of the local stand-ins nor their dependencies."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAND_INS = ("tpu_emulator", "localslack", "devstack", "websockets", "websocket", "selenium")
# `google` is a namespace several distributions share: name the owner of each part bot/ uses.
GOOGLE = {"google.auth": "google-auth", "google.oauth2": "google-auth"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def imported_distributions() -> set[str]:
    """Third-party distributions that the modules under bot/ import."""
    modules = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
    owners = packages_distributions()
    found = set()
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in (*STAND_INS[:3], "bot"):
            continue
        if top == "google":
            found.add(GOOGLE[".".join(module.split(".")[:2])])
            continue
        found.update(d.lower().replace("_", "-") for d in owners.get(top, [top]))
    return found


def test_base_dependencies_are_what_the_product_imports() -> None:
    base = {_name(r) for r in project()["dependencies"]}
    imported = imported_distributions()
    assert imported - base == set(), "imported by bot/ but not a base dependency"
    assert not {"websockets", "websocket-client", "selenium"} & base
    assert base - imported == set(), "base dependencies bot/ does not import"


def test_the_stand_ins_dependencies_are_in_the_dev_extra() -> None:
    extras = project()["optional-dependencies"]
    dev = {_name(r) for r in extras["dev"]}
    assert {"websockets", "selenium"} <= dev


def test_importing_the_product_pulls_in_no_stand_in() -> None:
    code = "import bot.app, bot.cli, json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert loaded.isdisjoint(STAND_INS), loaded & set(STAND_INS)
    assert "waitress" in loaded


def test_the_product_installs_without_extras(tmp_path: Path) -> None:
    """`pip install .` into a fresh venv without extras, then import (about 20 s with a warm
    pip cache; scripts/check_install.sh does it all)."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check_install.sh")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: the product installs without extras" in result.stdout
