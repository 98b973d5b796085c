"""`train`: the recipe lowers the loss, resume is bit-identical, bad data folders fail clearly."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.errors import ImageDataError
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.models import create_model, get_card
from resnet_deploy.train.dataset import load_folder, normalize
from resnet_deploy.train.trainer import TrainConfig, learning_rate, needs_warmup, train

cli = CliRunner()


@pytest.fixture(scope="module")
def tiny(cifar_train: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two easy classes, 96 images each: small enough for a few CPU epochs."""
    root = tmp_path_factory.mktemp("tiny")
    for name in ("cat", "ship"):
        (root / name).mkdir()
        for path in sorted((cifar_train / name).iterdir())[:96]:
            shutil.copy(path, root / name / path.name)
    return root


def _command(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "resnet_deploy", "train", "--arch", "resnet20", "--data", str(data),
            "--epochs", str(epochs), "--batch-size", "32", "--seed", "7", "-o", str(out), *extra]  # fmt: skip


def test_two_epochs_lower_the_loss_and_the_checkpoint_works_everywhere(tiny: Path, tmp_path: Path) -> None:
    config = TrainConfig(arch="resnet20", data=tiny, val=tiny, epochs=2, batch_size=32, lr=0.02, output=tmp_path)
    torch.manual_seed(config.seed)
    untrained = create_model("resnet20", num_classes=2).eval()
    spec = get_card("resnet20").preprocess
    data = load_folder(tiny, spec)
    with torch.no_grad():
        before = float(torch.nn.functional.cross_entropy(untrained(normalize(data.pixels, spec)), data.labels))
    last = train(config)
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert len(log) == 3 and (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    first_loss = float(log[1].split(",")[2])
    assert last["epoch"] == 2 and last["train_loss"] < first_loss and last["val_loss"] < before
    checkpoint = tmp_path / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "rng", "preprocess", "labels"} <= set(state)
    assert state["labels"] == ["cat", "ship"] and state["epoch"] == 2
    # The checkpoint works with export, eval and infer, with its own two labels.
    onnx_path = export_onnx("resnet20", weights=checkpoint, output=tmp_path / "m.onnx").path
    with open_runner(onnx_path) as runner:
        assert runner.metadata.labels == ("cat", "ship")
        report = evaluate(runner, tiny)
    assert report.images == 192 and report.top1 == pytest.approx(last["val_acc"], abs=1e-4)
    rows = cli.invoke(app, ["infer", str(tiny / "cat"), "--engine", str(checkpoint), "--topk", "1"]).stdout
    assert len(rows.splitlines()) == 96 and json.loads(rows.splitlines()[0])["label"] in ("cat", "ship")


def test_interrupted_run_resumes_to_identical_weights(tiny: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    subprocess.run(_command(tiny, straight, 3), check=True, capture_output=True)
    resumed = tmp_path / "resumed"
    process = subprocess.Popen(_command(tiny, resumed, 3), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = resumed / "checkpoint.pt"
    deadline = time.time() + 300
    while time.time() < deadline and not checkpoint.exists():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = torch.load(checkpoint, weights_only=True)["epoch"]
    assert interrupted_at < 3, "the run finished before it could be interrupted"
    subprocess.run(_command(tiny, resumed, 3, "--resume"), check=True, capture_output=True)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(checkpoint, weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    assert [row["train_loss"] for row in a["log"]] == [row["train_loss"] for row in b["log"]]


def test_schedule_and_warmup() -> None:
    config = TrainConfig(arch="resnet110", data=Path("."), epochs=100)
    assert learning_rate(config, 0, 0.0, warming_up=True) == 0.01
    assert [learning_rate(config, 0, p, False) for p in (0.0, 0.49, 0.5, 0.75, 0.99)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.001, 0.001]
    )
    assert needs_warmup("resnet110") and needs_warmup("resnet1202") and needs_warmup("preact_resnet164")
    assert not needs_warmup("resnet56") and not needs_warmup("resnet50")


def test_bad_data_folders(tmp_path: Path, tiny: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageDataError, match="no class folders"):
        train(TrainConfig(arch="resnet20", data=empty, epochs=1, output=tmp_path / "a"))
    single = tmp_path / "single"
    shutil.copytree(tiny / "cat", single / "cat")
    with pytest.raises(ImageDataError, match="single class folder"):
        train(TrainConfig(arch="resnet20", data=single, epochs=1, output=tmp_path / "b"))
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    (broken / "cat" / "zz.jpg").write_bytes(b"\xff\xd8 broken")
    result = cli.invoke(app, ["train", "--arch", "resnet20", "--data", str(broken), "--epochs", "1", "-o",
                              str(tmp_path / "c")])  # fmt: skip
    assert result.exit_code == 1
    assert "1 images in" in result.output and "zz.jpg: not an image" in result.output


def test_resume_without_a_checkpoint_starts_a_new_run_and_says_so(tiny: Path, tmp_path: Path) -> None:
    result = cli.invoke(app, ["train", "--arch", "resnet20", "--data", str(tiny), "--epochs", "1", "--batch-size",
                              "64", "-o", str(tmp_path / "run"), "--resume"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"note: --resume: no checkpoint in {tmp_path / 'run'} yet; starting a new run" in result.stderr
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 1
