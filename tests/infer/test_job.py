"""`infer` inputs and outputs: odd file names, resume identity, torn CSV rows, missing paths,
duplicates, @lists, batch-size bounds, out-of-memory and progress; `eval` shares the last three."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.progress import ProgressSample
from typer.testing import CliRunner

from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.cli.progress import image_progress
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.infer.pipeline import run_infer
from resnet_deploy.infer.sources import expand_inputs
from resnet_deploy.infer.writers import CSV_FIELDS, ResultWriter, read_rows

cli = CliRunner()
LATIN1 = os.fsdecode(b"b_latin1_\xe9.jpg")  # not UTF-8: Python carries the byte as a surrogate escape


@pytest.fixture(scope="module")
def model(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("job") / "r20.onnx").path


def _images(cifar_test: Path, folder: Path, names: list[str]) -> Path:
    """A few real CIFAR-10 JPEGs under the given names (alternately cats and ships)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        shutil.copy(cifar_test / ("cat", "ship")[i % 2] / f"{i:04d}.jpg", folder / name)
    return folder


def _labelled(cifar_test: Path, root: Path) -> Path:
    """An ImageFolder tree of the model's classes: cat/ (3 images) and ship/ (2)."""
    _images(cifar_test, root / "cat", ["a.jpg", "b.jpg", "c.jpg"])
    _images(cifar_test, root / "ship", ["d.jpg", "e.jpg"])
    return root


def _infer(*args: str):
    return cli.invoke(app, ["infer", *args])


def _one_error_line(result, *patterns: str) -> str:
    assert result.exit_code == 1, result.output
    # A random-weights warning may come first (said loudly, on purpose); the error is one line.
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("WARNING: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(pattern in lines[0] for pattern in patterns), lines[0]
    return lines[0]


def _keep_rows(out: Path, count: int) -> None:
    """What an interrupted run leaves: the first `count` rows (and the CSV header)."""
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[: count + (out.suffix == ".csv")]))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_file_name_that_is_not_utf8_is_a_row_and_resumes(model, cifar_test, tmp_path, suffix) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", LATIN1, "c.jpg"])
    out = tmp_path / f"rows{suffix}"
    result = _infer(str(folder), "--engine", str(model), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    out.read_bytes().decode("utf-8")  # the whole output is valid UTF-8
    rows = read_rows(out)
    assert [row["path"] for row in rows] == [f"{folder}/a.jpg", f"{folder}/b_latin1_\\xe9.jpg", f"{folder}/c.jpg"]
    assert [row["status"] for row in rows] == ["ok"] * 3 and rows[1]["label"] == "ship"
    complete = out.read_bytes()
    _keep_rows(out, 2)  # interrupted after the odd name
    resumed = _infer(str(folder), "--engine", str(model), "-o", str(out), "--resume", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["resumed_from"] == 2 and out.read_bytes() == complete
    listing = tmp_path / "list.txt"  # a list written by `find`: the name's raw bytes
    listing.write_bytes(os.fsencode(folder / LATIN1) + b"\n")
    listed = _infer(f"@{listing}", "--engine", str(model))
    assert listed.exit_code == 0 and json.loads(listed.stdout)["path"] == rows[1]["path"]


def test_resume_refuses_another_job(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "rows.jsonl"
    assert _infer(str(folder), "--engine", str(model), "-o", str(out), "--topk", "3").exit_code == 0
    record = json.loads((tmp_path / "rows.jsonl.job.json").read_text())
    assert record["topk"] == 3 and record["inputs"]["count"] == 3 and record["output_format"] == "jsonl"
    assert record["engine"]["arch"] == "resnet20" and len(record["engine"]["sha256"]) == 64
    assert record["preprocess"]["input_size"] == 32
    _keep_rows(out, 1)
    partial = out.read_bytes()
    other = export_onnx("resnet20", output=tmp_path / "random.onnx").path  # random weights: another engine
    refused = {
        "topk 3 vs 2": ["--topk", "2"],
        "engine sha256": ["--topk", "3", "--engine", str(other)],
        "inputs 3 paths": ["--topk", "3", str(folder / "a.jpg")],
    }
    for pattern, extra in refused.items():
        args = [str(folder), "--engine", str(model), "-o", str(out), "--resume", *extra]
        if "inputs" in pattern:
            args.remove(str(folder))
        _one_error_line(_infer(*args), "--resume", pattern)
        assert out.read_bytes() == partial  # nothing appended
    assert _infer(str(folder), "--engine", str(model), "-o", str(out), "--resume", "--topk", "3").exit_code == 0
    assert len(read_rows(out)) == 3
    (tmp_path / "rows.jsonl.job.json").unlink()
    _keep_rows(out, 1)
    _one_error_line(_infer(str(folder), "--engine", str(model), "-o", str(out), "--resume", "--topk", "3"),
                    "has no job record")  # fmt: skip


def test_csv_resume_drops_a_row_torn_inside_a_quoted_path(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", "b\nnewline.jpg", "c.jpg"])
    out = tmp_path / "rows.csv"
    assert _infer(str(folder), "--engine", str(model), "-o", str(out)).exit_code == 0
    complete = out.read_bytes()
    assert [row["path"] for row in read_rows(out)][1] == f"{folder}/b\nnewline.jpg"
    inside_quotes = complete.index(b"b\nnewline") + 2
    for cut in (inside_quotes, inside_quotes + 12):  # torn right after the newline in the path, or later
        out.write_bytes(complete[:cut])
        assert [Path(row["path"]).name for row in read_rows(out)] == ["a.jpg"]
        result = _infer(str(folder), "--engine", str(model), "-o", str(out), "--resume", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["resumed_from"] == 1 and out.read_bytes() == complete


def test_a_missing_path_on_the_command_line_is_an_error_before_any_work(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg"])
    out = tmp_path / "rows.jsonl"
    result = _infer(str(folder), str(tmp_path / "images"), "--engine", str(model), "-o", str(out))
    _one_error_line(result, f"{tmp_path / 'images'} does not exist")
    assert not out.exists() and not (tmp_path / "rows.jsonl.job.json").exists()
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'a.jpg'}\n{tmp_path / 'gone.jpg'}\n")  # inside a list: an error row
    rows = [json.loads(line) for line in _infer(f"@{listing}", "--engine", str(model)).stdout.splitlines()]
    assert [row["status"] for row in rows] == ["ok", "error"] and rows[1]["error"] == "file not found"


def test_a_path_given_twice_is_classified_once_and_counted(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", "b.jpg"])
    a, b = str(folder / "a.jpg"), str(folder / "b.jpg")
    out = tmp_path / "rows.jsonl"
    result = _infer(a, a, b, str(folder), "--engine", str(model), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [row["path"] for row in read_rows(out)] == [a, b]
    assert summary["images"] == summary["ok"] + summary["errors"] == 2 and summary["duplicates"] == 3
    text = _infer(a, a, "--engine", str(model), "-o", str(tmp_path / "two.jsonl"))
    assert "1 images: 1 ok, 0 errors (1 duplicate paths classified once)" in " ".join(text.stdout.split())


def test_list_entries_are_relative_to_the_current_folder_and_folders_are_searched(
    cifar_test: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    _images(cifar_test, work / "imgs", ["a.jpg", "b.jpg"])
    _images(cifar_test, work / "more", ["c.jpg"])
    listing = tmp_path / "lists" / "list.txt"
    listing.parent.mkdir()
    listing.write_text("# images to classify\nimgs/a.jpg\n\nmore\nmissing.jpg\n")
    monkeypatch.chdir(work)
    assert expand_inputs([f"@{listing}"]) == [Path("imgs/a.jpg"), Path("more/c.jpg"), Path("missing.jpg")]
    assert expand_inputs(["more", f"@{listing}"])[:2] == [Path("more/c.jpg"), Path("imgs/a.jpg")]


def test_batch_size_zero_is_refused_before_any_work(model, cifar_test, tmp_path) -> None:
    labelled = _labelled(cifar_test, tmp_path / "labelled")
    out = tmp_path / "rows.jsonl"
    for value in ("0", "-1"):
        _one_error_line(_infer(str(labelled), "--engine", str(model), "-o", str(out), "--batch-size", value),
                        f"--batch-size must be at least 1, got {value}")  # fmt: skip
        result = cli.invoke(app, ["eval", str(model), "--images", str(labelled), "--batch-size", value])
        _one_error_line(result, f"--batch-size must be at least 1, got {value}")
    assert not out.exists()


def test_topk_above_the_classes_is_capped_with_one_note(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", "b.jpg"])
    result = _infer(str(folder), "--engine", str(model), "--topk", "20")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "--topk" in line]
    assert notes == ["note: --topk 20 is more than the model's 10 classes; each row lists all 10"]
    assert [len(json.loads(line)["topk"]) for line in result.stdout.splitlines()] == [10, 10]


def test_batch_size_is_bounded_by_available_memory(model, cifar_test, tmp_path, monkeypatch) -> None:
    labelled = _labelled(cifar_test, tmp_path / "labelled")
    monkeypatch.setattr("resnet_deploy.machine.available_memory", lambda: 1 << 20)  # a 1 MiB machine
    out = tmp_path / "rows.jsonl"
    # 5 images of 3x32x32 float32 at 32 bytes per input byte: 1.9 MiB; 80% of 1 MiB holds 2.
    for command in (["infer", str(labelled), "--engine", str(model), "-o", str(out)],
                    ["eval", str(model), "--images", str(labelled)]):  # fmt: skip
        result = cli.invoke(app, [*command, "--batch-size", "100000"])
        _one_error_line(result, "--batch-size 100000 needs about 1.9 MiB", "use --batch-size 2 or less")
    assert not out.exists()
    result = _infer(str(labelled), "--engine", str(model), "-o", str(out), "--batch-size", "2")
    assert result.exit_code == 0 and len(read_rows(out)) == 5


def test_running_out_of_memory_is_one_line_and_leaves_no_file(model, cifar_test, tmp_path, monkeypatch) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg", "b.jpg"])

    def allocate_too_much(runner, batch):
        return np.empty(1 << 60, np.uint8)  # a real allocation failure: numpy's MemoryError

    monkeypatch.setattr("resnet_deploy.infer.pipeline.run_padded", allocate_too_much)
    for suffix in (".jsonl", ".csv"):
        out = tmp_path / f"rows{suffix}"
        result = _infer(str(folder), "--engine", str(model), "-o", str(out), "--batch-size", "2")
        _one_error_line(result, "out of memory at --batch-size 2", "use a smaller --batch-size")
        assert not out.exists() and not Path(f"{out}.job.json").exists()


def test_onnxruntime_allocation_failure_is_recognised(model: Path) -> None:
    """A real arena failure in onnxruntime (address space capped) becomes the same one-line error."""
    script = f"""
import resource, numpy as np
from resnet_deploy.backends import open_runner
from resnet_deploy.backends.batching import out_of_memory_is_an_error
from resnet_deploy.errors import ImageDataError
runner = open_runner({str(model)!r})
runner.infer(np.zeros((4, 3, 32, 32), np.float32))
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
batch = np.zeros((20000, 3, 32, 32), np.float32)  # 0.25 GB in; onnxruntime wants 1.3 GB per activation
resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 30), size + (1 << 30)))
try:
    with out_of_memory_is_an_error(20000):
        runner.infer(batch)
except ImageDataError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "out of memory at --batch-size 20000 (Fail); use a smaller --batch-size", (
        result.stdout + result.stderr[-2000:]
    )


def test_an_empty_output_left_by_a_crash_does_not_block_a_rerun(model, cifar_test, tmp_path) -> None:
    folder = _images(cifar_test, tmp_path / "imgs", ["a.jpg"])
    for out, leftover in ((tmp_path / "a.jsonl", ""), (tmp_path / "b.csv", ",".join(CSV_FIELDS) + "\n")):
        out.write_text(leftover)
        result = _infer(str(folder), "--engine", str(model), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert len(read_rows(out)) == 1


def test_progress_reports_done_of_total_and_a_formatted_rate(model, cifar_test, tmp_path) -> None:
    labelled = _labelled(cifar_test, tmp_path / "labelled")
    (labelled / "ship" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    eval_calls, infer_calls = [], []
    with open_runner(model) as runner:
        evaluate(runner, labelled, batch_size=4, progress=lambda done, total: eval_calls.append((done, total)))
        out = tmp_path / "rows.jsonl"
        inputs = expand_inputs([str(labelled)])
        run_infer(runner, inputs, ResultWriter(out, "jsonl"), batch_size=4)
        _keep_rows(out, 2)
        run_infer(runner, inputs, ResultWriter(out, "jsonl"), batch_size=4, resume=True,
                  progress=lambda done, total: infer_calls.append((done, total)))  # fmt: skip
    assert eval_calls == [(4, 6), (6, 6)]
    assert infer_calls == [(2, 6), (6, 6)]  # starts at the rows done before resuming
    bar, progress = image_progress("infer", Console(width=100, force_terminal=True, color_system=None))
    column, task = bar.columns[3], bar.tasks[0]
    assert str(column.render(task)) == "- img/s"  # no rate measured yet: never "None img/s"
    progress(0, 5000)
    task._progress.extend([ProgressSample(100.0, 0), ProgressSample(100.5, 591.2)])  # 591.2 images in 0.5 s
    assert str(column.render(task)) == "1,182 img/s"
