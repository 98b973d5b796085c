"""train, and the demo of the whole pipeline on the embedded default model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from resnet_deploy.cli.common import (
    ArchOpt,
    JsonOpt,
    app,
    console,
    err_console,
    print_json,
    print_table,
)
from resnet_deploy.errors import OutputError
from resnet_deploy.outputs import CHECKPOINT_SUFFIXES, check_writable


@app.command(rich_help_panel="Training and demo")
def train(
    arch: ArchOpt,
    data: Annotated[Path, typer.Option("--data", help="Training images: <class>/<image> folders.")],
    val: Annotated[Path | None, typer.Option("--val", help="Validation images, same classes.")] = None,
    epochs: Annotated[int, typer.Option("--epochs")] = 160,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 128,
    lr: Annotated[float, typer.Option("--lr", help="Initial learning rate.")] = 0.1,
    schedule: Annotated[str, typer.Option("--schedule", help="paper (/10 at 50% and 75%) or cosine.")] = "paper",
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: checkpoint, log, curve.")] = Path(
        "runs/train"
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the run folder's checkpoint (none yet: start, with a note).")
    ] = False,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Decoding threads.")] = 4,
    json: JsonOpt = False,
) -> None:
    """Train with the papers' CIFAR recipe; a checkpoint after every epoch, resumable."""
    from resnet_deploy.train.trainer import CHECKPOINT, TrainConfig
    from resnet_deploy.train.trainer import train as run_training

    if output.suffix.lower() in CHECKPOINT_SUFFIXES:
        raise OutputError(
            f"--output {output} looks like a checkpoint file; --output is the run folder "
            f"(it gets {CHECKPOINT}, the log and the curve): give a folder such as runs/{output.stem}"
        )
    check_writable(output, folder=True)
    config = TrainConfig(arch=arch, data=data, val=val, epochs=epochs, batch_size=batch_size, lr=lr,
                         schedule=schedule, output=output, device=device, seed=seed, workers=workers)  # fmt: skip

    def report(row: dict) -> None:
        if not json:
            val_text = f", val acc {row['val_acc']:.4f}" if row["val_acc"] != "" else ""
            err_console.print(
                f"epoch {row['epoch']}/{epochs}: lr {row['lr']:.4g}, loss {row['train_loss']:.4f}, "
                f"train acc {row['train_acc']:.4f}{val_text} ({row['seconds']:.1f}s)",
                highlight=False,
            )

    if resume and not (output / CHECKPOINT).exists():  # a resubmitted job's first run: nothing to resume yet
        err_console.print(f"note: --resume: no checkpoint in {output} yet; starting a new run", highlight=False)
    last = run_training(config, resume=resume, on_epoch=report)
    if json:
        print_json({**last, "checkpoint": str(output / CHECKPOINT)})
    else:
        console.print(f"checkpoint: {output / CHECKPOINT}", highlight=False, soft_wrap=True)


@app.command(rich_help_panel="Training and demo")
def demo(
    images: Annotated[
        Path | None,
        typer.Argument(
            help="Images to classify (default: the shared CIFAR-10 test JPEGs where they exist, "
            "else the 200-image sample packaged with resnet-deploy)."
        ),
    ] = None,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where the demo's artifacts go.")] = Path("demo"),
    json: JsonOpt = False,
) -> None:
    """The whole pipeline on the embedded ResNet-20: export, check, calibrate, build, infer, bench."""
    from resnet_deploy.demo import run_demo

    check_writable(workdir, "--workdir", folder=True)
    summary = run_demo(images, workdir=workdir, log=lambda line: err_console.print(f"> {line}", highlight=False))
    if json:
        print_json(summary)
        return
    table = Table(title=f"resnet-deploy demo ({summary['seconds']}s)", show_header=False)
    table.add_column("step")
    table.add_column("result")
    check = summary["check"]
    shown = summary["images"]
    table.add_row("images", Text(f"{shown['source']}: {shown['count']:,} images in {shown['path']}"))
    table.add_row("export", summary["export"]["onnx"])
    table.add_row("check", f"{'PASS' if check['passed'] else 'FAIL'}: max |diff| {check['max_abs_diff']:.2e}, "
                  f"top-1 agreement {check['top1_agreement']:.2%}")  # fmt: skip
    calibration = summary["calibrate"]
    table.add_row("calibrate", f"{calibration['onnx']} ({calibration['method']}, {calibration['images']:,} images)")
    for precision, plan in summary["build"].items():
        built = f"{plan['plan']} ({plan['mb']} MB, {plan['runtime']})" if "plan" in plan else plan["skipped"]
        table.add_row(f"build {precision}", Text(built))  # plain text: "[rtx]" in a hint is not markup
    infer_data = summary["infer"]
    table.add_row("infer", f"{infer_data['images']:,} images, {infer_data['errors']} errors, "
                  f"{infer_data['images_per_s']:,.0f} img/s -> {infer_data['output']}")  # fmt: skip
    for name, accuracy in summary.get("accuracy", {}).items():
        table.add_row(f"top-1 {name}", f"{accuracy['top1']:.2%} on {accuracy['images']:,} images")
    for row in summary["bench"]:
        if row["status"] == "ok":
            table.add_row(
                f"bench {row['backend']} b{row['batch']}", f"{row['throughput']:,.0f} img/s, p50 {row['p50_ms']:.2f} ms"
            )
    print_table(table, keep={"step"})  # step names stay whole; results wrap
