"""`infer`: accuracy equals `eval`, every bad input is a row with its reason, resume after a kill."""

from __future__ import annotations

import csv
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.infer.sources import expand_inputs
from resnet_deploy.infer.writers import read_rows

cli = CliRunner()


@pytest.fixture(scope="module")
def model(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("inf") / "r20.onnx").path


def _infer(*args: str):
    return cli.invoke(app, ["infer", *args])


def test_accuracy_from_infer_equals_eval(model: Path, cifar_test: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    result = _infer(str(cifar_test), "--engine", str(model), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == summary["ok"] == 10_000 and summary["errors"] == 0
    assert summary["batch_latency_ms"]["p50"] <= summary["batch_latency_ms"]["p99"]
    assert 0 < summary["compute_share"] <= 1
    rows = read_rows(out)
    correct = sum(row["label"] == Path(row["path"]).parent.name for row in rows)
    with open_runner(model) as runner:
        report = evaluate(runner, cifar_test)
    assert len(rows) == 10_000 and correct / len(rows) == report.top1
    assert [row["path"] for row in rows] == [str(p) for p in expand_inputs([str(cifar_test)])]
    first = rows[0]
    assert len(first["topk"]) == 5 and abs(sum(t["prob"] for t in first["topk"]) - 1) < 0.01


def _png_bomb(path: Path, side: int = 40_000) -> None:
    """A tiny PNG whose header claims side x side pixels: Pillow refuses it on open."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture
def bad_folder(cifar_test: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, str | None]]:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = cifar_test / "cat" / "0000.jpg"
    (folder / "a_good.jpg").write_bytes(good.read_bytes())
    (folder / "b_truncated.jpg").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (folder / "c_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(300))
    (folder / "d_notes.txt").write_text("not an image")
    (folder / "e_empty.png").write_bytes(b"")
    rgb = Image.open(good).convert("RGB")
    rgb.convert("CMYK").save(folder / "f_cmyk.jpg")
    rgb.convert("L").save(folder / "g_gray.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "h_rgba.png")
    Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257).save(folder / "i_16bit.png")
    _png_bomb(folder / "j_bomb.png")
    (folder / "k_broken_link.jpg").symlink_to(folder / "no-such-target.jpg")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'a_good.jpg'}\nmissing.jpg\n{tmp_path / 'a_dir'}\n")
    (tmp_path / "a_dir").mkdir()  # a folder in a list is searched, as on the command line
    (tmp_path / "a_dir" / "l_in_listed_folder.jpg").write_bytes(good.read_bytes())
    expected = {
        "a_good.jpg": None, "b_truncated.jpg": "corrupt image", "c_corrupt.jpg": "corrupt image",
        "d_notes.txt": "not an image", "e_empty.png": "empty file", "f_cmyk.jpg": None, "g_gray.png": None,
        "h_rgba.png": None, "i_16bit.png": None, "j_bomb.png": "decompression bomb",
        "k_broken_link.jpg": "broken symlink", "missing.jpg": "file not found", "l_in_listed_folder.jpg": None,
    }  # fmt: skip
    return folder, listing, expected


def test_every_bad_input_is_a_row_with_its_reason(model: Path, bad_folder, tmp_path: Path) -> None:
    folder, listing, expected = bad_folder
    out = tmp_path / "bad.jsonl"
    result = _infer(str(folder), f"@{listing}", "--engine", str(model), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output  # errors are reported, not fatal
    rows = read_rows(out)
    by_name = {Path(row["path"]).name: row for row in rows}
    summary = json.loads(result.stdout)
    assert len(rows) == len(expected) == summary["images"] == summary["ok"] + summary["errors"]
    assert summary["duplicates"] == 1  # a_good.jpg: in the folder and in the list
    for name, reason in expected.items():
        row = by_name[name]
        if reason is None:
            assert row["status"] == "ok" and row["label"], (name, row)
        else:
            assert row["status"] == "error" and reason in row["error"], (name, row)
    assert by_name["g_gray.png"]["label"] == by_name["a_good.jpg"]["label"] == "cat"  # converted, still a cat
    strict = _infer(str(folder), "--engine", str(model), "-o", str(tmp_path / "s.jsonl"), "--strict")
    assert strict.exit_code == 1


def test_csv_output_parses_and_order_is_stable(model: Path, bad_folder, tmp_path: Path) -> None:
    folder, _, expected = bad_folder
    outputs = []
    for name in ("one.csv", "two.csv"):
        assert (
            _infer(str(folder), "--engine", str(model), "-o", str(tmp_path / name), "--batch-size", "3").exit_code == 0
        )
        outputs.append((tmp_path / name).read_text())
    assert outputs[0] == outputs[1]
    rows = list(csv.DictReader(outputs[0].splitlines()))
    assert [Path(r["path"]).name for r in rows] == sorted(
        n for n in expected if (folder / n).is_symlink() or (folder / n).exists()
    )
    assert {r["status"] for r in rows} == {"ok", "error"}
    ok = next(r for r in rows if r["status"] == "ok")
    assert len(ok["topk_labels"].split(";")) == 5 and float(ok["prob"]) > 0


def test_existing_output_needs_resume(model: Path, cifar_test: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"path": "x", "status": "ok"}\n')
    result = _infer(str(cifar_test / "cat"), "--engine", str(model), "-o", str(out))
    assert result.exit_code == 1 and "pass --resume" in result.output


def test_resume_after_a_killed_run(model: Path, cifar_test: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "resnet_deploy", "infer", str(cifar_test), "--engine", str(model),
               "-o", str(out), "--batch-size", "64", "--workers", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 1500):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = out.read_bytes().count(b"\n")
    assert 1500 <= partial < 10_000, "the run was not interrupted mid-way"
    with open(out, "ab") as handle:
        handle.write(b'{"path": "/torn/li')  # what a crash in the middle of a write would leave
    result = _infer(str(cifar_test), "--engine", str(model), "-o", str(out), "--resume", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["resumed_from"] == partial and summary["ok"] == 10_000 - partial
    rows = read_rows(out)
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) == 10_000
    assert paths == [str(p) for p in expand_inputs([str(cifar_test)])]
    assert out.read_bytes().endswith(b"\n")


def test_stdout_rows_without_output(model: Path, cifar_test: Path) -> None:
    result = _infer(str(cifar_test / "cat" / "0000.jpg"), str(cifar_test / "dog" / "0000.jpg"), "--engine", str(model),
                    "--topk", "2")  # fmt: skip
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).parent.name for r in rows] == ["cat", "dog"] and len(rows[0]["topk"]) == 2
