"""The papers' CIFAR recipe (He et al. 2015, sec. 4.2), resumable from any epoch.

SGD, momentum 0.9, weight decay 1e-4; learning rate 0.1, divided by 10 at 50% and 75% of
training (the paper's 32k and 48k of 64k iterations), or cosine. Nets of 110 layers and deeper
warm up at 0.01 until the training error falls below 80%. A checkpoint is written atomically
after every epoch with the model, optimizer, schedule state, epoch, RNG state, preprocessing
and labels; `--resume` continues from it exactly (bit-identical on the CPU).
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from resnet_deploy import __version__
from resnet_deploy.atomic import atomic_write, atomic_write_text
from resnet_deploy.errors import ArtifactError
from resnet_deploy.models.registry import create_model, get_card
from resnet_deploy.plotting import pyplot, save_png
from resnet_deploy.train.dataset import InMemoryImages, augment, load_folder, normalize

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"  # the deployable part of the checkpoint: weights, labels, preprocessing
DEPLOY_KEYS = (
    "format",
    "tool_version",
    "arch",
    "model",
    "preprocess",
    "labels",
    "num_classes",
    "epoch",
    "config",
    "log",
)
LOG = "log.csv"
CURVE = "curve.png"
LOG_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")
WARMUP_LR, WARMUP_UNTIL_ERROR = 0.01, 0.80


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    data: Path
    val: Path | None = None
    epochs: int = 160
    batch_size: int = 128
    lr: float = 0.1
    schedule: str = "paper"
    output: Path = Path("runs")
    device: str = "cpu"
    seed: int = 0
    workers: int = 4


def learning_rate(config: TrainConfig, epoch: int, progress: float, warming_up: bool) -> float:
    """`progress` in [0, 1): the fraction of training done at this iteration."""
    if warming_up:
        return WARMUP_LR
    if config.schedule == "cosine":
        return 0.5 * config.lr * (1 + math.cos(math.pi * progress))
    return config.lr * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))


def needs_warmup(arch: str) -> bool:
    card = get_card(arch)
    config = card.config
    per_unit = 3 if config["bottleneck"] else 2
    depth = per_unit * sum(config["stage_units"]) + 2
    return card.family == "cifar" and depth >= 110


def _evaluate(model: nn.Module, images: InMemoryImages, spec, device: str, batch: int = 500) -> tuple[float, float]:
    model.eval()
    loss, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(images.labels), batch):
            x = normalize(images.pixels[start : start + batch], spec).to(device)
            y = images.labels[start : start + batch].to(device)
            logits = model(x)
            loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    return loss / len(images.labels), correct / len(images.labels)


def _save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def write_model(checkpoint: Path, output: Path) -> Path:
    """The checkpoint without optimizer and RNG state: what export, eval and infer need."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    _save_checkpoint(output, {key: state[key] for key in DEPLOY_KEYS})
    return output


def _write_log(folder: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / LOG, buffer.getvalue())
    try:
        plt = pyplot()
    except ImportError:
        return  # the CSV log is the record; the curve is a convenience
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [r["epoch"] for r in rows]
    left.plot(epochs, [r["train_loss"] for r in rows], label="train")
    right.plot(epochs, [r["train_acc"] for r in rows], label="train")
    if rows and rows[0]["val_acc"] != "":
        left.plot(epochs, [r["val_loss"] for r in rows], label="val")
        right.plot(epochs, [r["val_acc"] for r in rows], label="val")
    for axis, title in ((left, "loss"), (right, "top-1 accuracy")):
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    save_png(figure, folder / CURVE, dpi=100)


def train(config: TrainConfig, *, resume: bool = False, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) and return the last epoch's log row."""
    if config.epochs < 1 or config.batch_size < 1 or config.lr <= 0:
        raise ArtifactError("--epochs, --batch-size and --lr must be positive")
    if config.schedule not in ("paper", "cosine"):
        raise ArtifactError(f"--schedule must be paper or cosine, got {config.schedule!r}")
    from resnet_deploy.backends.torch_runner import resolve_device

    device = resolve_device(config.device)
    card = get_card(config.arch)
    spec = card.preprocess
    folder = config.output
    checkpoint_path = folder / CHECKPOINT
    if checkpoint_path.exists() and not resume:
        raise ArtifactError(f"{checkpoint_path} exists; pass --resume to continue it, or choose another --output")

    train_set = load_folder(config.data, spec, config.workers)
    val_set = load_folder(config.val, spec, config.workers) if config.val else None
    if val_set is not None and val_set.classes != train_set.classes:
        raise ArtifactError(
            f"--val classes {list(val_set.classes)} differ from --data classes {list(train_set.classes)}"
        )
    labels = train_set.classes

    torch.manual_seed(config.seed)
    model = create_model(config.arch, num_classes=len(labels)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(config.seed)
    start_epoch, warming_up, rows = 0, needs_warmup(config.arch), []
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        if state.get("arch") != config.arch or state.get("config", {}).get("epochs") != config.epochs:
            raise ArtifactError(
                f"{checkpoint_path} is a {state.get('arch')} run of {state.get('config', {}).get('epochs')} epochs; "
                f"resume it with the same --arch and --epochs"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["rng"]["generator"])
        torch.set_rng_state(state["rng"]["torch"])
        start_epoch, warming_up, rows = state["epoch"], state["scheduler"]["warming_up"], state["log"]

    steps_per_epoch = math.ceil(len(train_set.labels) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    last: dict = rows[-1] if rows else {}
    for epoch in range(start_epoch, config.epochs):
        began = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_set.labels), generator=generator)
        seen = loss_sum = correct = 0
        window: list[float] = []  # recent batch errors, to end the warm-up
        lr = config.lr
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            x = normalize(augment(train_set.pixels[index], generator), spec).to(device)
            y = train_set.labels[index].to(device)
            lr = learning_rate(config, epoch, (epoch * steps_per_epoch + step) / total_steps, warming_up)
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            hits = int((logits.argmax(1) == y).sum())
            seen, loss_sum, correct = seen + len(y), loss_sum + loss.item() * len(y), correct + hits
            if warming_up:
                window = (window + [1 - hits / len(y)])[-20:]
                warming_up = len(window) < 20 or sum(window) / len(window) >= WARMUP_UNTIL_ERROR
        val_loss, val_acc = _evaluate(model, val_set, spec, device) if val_set else ("", "")
        last = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": round(loss_sum / seen, 5),
            "train_acc": round(correct / seen, 5),
            "val_loss": round(val_loss, 5) if val_set else "",
            "val_acc": round(val_acc, 5) if val_set else "",
            "seconds": round(time.perf_counter() - began, 2),
        }
        rows.append(last)
        _save_checkpoint(checkpoint_path, {
            "format": "resnet-deploy-checkpoint",
            "tool_version": __version__,
            "arch": config.arch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": {"schedule": config.schedule, "warming_up": warming_up},
            "epoch": epoch + 1,
            "rng": {"generator": generator.get_state(), "torch": torch.get_rng_state()},
            "preprocess": spec.to_json(),
            "labels": list(labels),
            "num_classes": len(labels),
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "log": rows,
        })  # fmt: skip
        write_model(checkpoint_path, folder / MODEL)
        _write_log(folder, rows)
        if on_epoch is not None:
            on_epoch(last)
    return last
