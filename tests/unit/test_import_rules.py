"""The dependency rules of the layout, checked by walking every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: package -> packages of ours it must never import
FORBIDDEN = {
    "rpc": {"region", "cluster"},
    "power": {"region", "cluster"},
    "region": {"cluster"},
    "cluster": {"region"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_rules(package: str) -> None:
    """rpc/ and power/ import neither daemon; region/ and cluster/ never import each other."""
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert offenders == []


def test_only_main_modules_import_the_global_reactor() -> None:
    """The reactor is injected everywhere except the console-script entry points."""
    offenders = []
    for package in FORBIDDEN:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "main.py":
                continue
            text = path.read_text()
            if "from twisted.internet import reactor" in text or "internet.reactor" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
