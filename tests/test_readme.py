"""The README and pyproject.toml say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from resnet_deploy.cli.app import app
from resnet_deploy.models.flops import model_complexity

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_the_command_table_lists_every_command() -> None:
    table = README[README.index("| command | what it does |") :].split("\n\n")[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)`(?:, `([a-z0-9-]+)`)?", table, flags=re.MULTILINE))
    listed = {name for pair in listed for name in pair if name}
    commands = {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands}
    assert commands == listed


def test_preact_parameter_counts_are_the_models() -> None:
    # preact_resnet1001's exact count is pinned in tests/models/test_registry.py
    assert f"({model_complexity('preact_resnet164')['params']:,} / 10,327,706;" in README


def test_license_is_an_spdx_expression() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '\nlicense = "MIT"\n' in pyproject
    assert 'requires = ["setuptools>=77"]' in pyproject  # PEP 639 license expressions need setuptools 77
