"""The project's own set-up files: compose file, console scripts, CI entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_is_valid() -> None:
    """docker-compose.yml passes `docker-compose config` (no engine needed)."""
    result = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config",
                             "--quiet"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_console_scripts_are_declared_and_installed() -> None:
    """maas-region (and maas-cluster) are console scripts of the installed venv."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    scripts = project["project"]["scripts"]
    assert scripts["maas-region"] == "region.main:main"
    bindir = Path(sys.executable).parent
    for name in scripts:
        assert (bindir / name).exists(), f"{name} is not installed in {bindir}"


def test_ci_runs_make_test() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join((REPO / "README.md").read_text().splitlines()[:8])
    assert "make run" in head and "make test" in head
