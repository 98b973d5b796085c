"""Tables in a pipe or an 80-column terminal: names and hashes are never cut; other columns wrap or fold."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.cli.common import print_table
from resnet_deploy.models import list_models

NAMES = [card.name for card in list_models()]


def test_models_never_cuts_a_name() -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.stdout.splitlines() if line[0] == "│"]
    assert [row[0] for row in rows if row[0]] == NAMES
    # Each weight set and its top-1 stay whole, side by side, and the whole table fits 80 columns.
    sets = [(row[-2], row[-1]) for row in rows if row[-2] not in ("", "-")]
    assert ("imagenet1k_v2", "80.86") in sets and ("imagenet1k_v1", "76.13") in sets
    assert ["resnet50", "25,557,032", "4.089", "22.85", "imagenet1k_v2", "80.86"] in rows
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def _table() -> Table:
    table = Table(title="synthetic")
    for header in ("name", "family", "params", "a long header that wraps", "sha256"):
        table.add_column(header)
    table.add_row("preact_resnet1001", "cifar", "10,327,706", "a cell with several words", "ab" * 32)
    table.add_row("resnet18", "imagenet (torchvision layout)", "11,689,512", "-", "cd" * 32)
    return table


@pytest.mark.parametrize("width", [30, 60, 80, 100, 120, 160, 200])
def test_print_table_keeps_whole_cells_and_fits_when_it_can(width: int) -> None:
    buffer = io.StringIO()
    print_table(_table(), keep={"name", "sha256"}, out=Console(file=buffer, width=width))
    text = buffer.getvalue()
    for cell in ("preact_resnet1001", "resnet18", "ab" * 32, "cd" * 32):
        assert cell in text
    longest = max(len(line) for line in text.splitlines())
    needed = 17 + 64 + 3 * 4 + 16  # the two kept columns, the others at 4, borders and padding
    unfolded = 17 + 64 + len("(torchvision") + len("10,327,706") + len("several") + 16  # longest words
    assert longest <= width if width >= needed else longest == unfolded
    if width < needed:  # wider than the terminal anyway: nothing folds
        assert "10,327,706" in text and "(torchvision" in text
    if width >= 160:  # room for every longest word: numbers stay whole
        assert "10,327,706" in text and "11,689,512" in text


def test_bench_table_shows_p90_p95_and_says_where_it_wrote(tmp_path: Path) -> None:
    csv, png = tmp_path / "b.csv", tmp_path / "b.png"
    args = ["bench", "--arch", "resnet20", "--batch-sizes", "1", "--warmup-s", "0", "--duration-s", "0.05",
            "--csv", str(csv), "--plot", str(png)]  # fmt: skip
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "backend" in line)
    assert [cell.strip() for cell in header.strip("┃").split("┃")][3:7] == ["p50", "p90", "p95", "p99"]
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert rows == ["torch", "onnxruntime"]
    assert f"wrote {csv}" in result.stdout and f"wrote {png}" in result.stdout
    assert csv.is_file() and png.read_bytes().startswith(b"\x89PNG")
