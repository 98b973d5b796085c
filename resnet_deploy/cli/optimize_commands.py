"""`optimize`: the fastest artifact within a top-1 budget, with a progress bar and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from resnet_deploy.cli.common import JsonOpt, app, console, err_console, print_json, print_table
from resnet_deploy.outputs import check_writable


@app.command(rich_help_panel="ONNX, parity, accuracy, precision")
def optimize(
    model: Annotated[Path, typer.Argument(help="Float32 ONNX written by `resnet-deploy export`.")],
    calib: Annotated[Path, typer.Option("--calib", help="Calibration images (any folder, searched recursively).")],
    eval_dir: Annotated[Path, typer.Option("--eval", help="Labelled images <class>/<image> to score candidates on.")],
    budget: Annotated[float, typer.Option("--budget", help="Top-1 points you accept to lose against float32.")],
    target: Annotated[str, typer.Option("--target", help="onnxruntime-cpu, tensorrt or tensorrt-rtx.")],
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="Default: export/<model>_optimize/")] = None,
    num_images: Annotated[int, typer.Option("--num-images", help="Calibration images.")] = 512,
    sensitivity_images: Annotated[
        int,
        typer.Option("--sensitivity-images", help="--eval images (spread evenly) for per-layer sensitivity; 0: all."),
    ] = 2000,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Calibration statistics cache.")] = Path("calib"),
    speed_seconds: Annotated[float, typer.Option("--speed-seconds", help="Timed window per candidate.")] = 2.0,
    json: JsonOpt = False,
) -> None:
    """Search precisions, calibrations and float layers; write the fastest artifact within --budget."""
    from resnet_deploy.optimize.search import optimize as run_search

    check_writable(output_dir or Path("export"), "--output-dir", folder=True)  # the default is under export/
    check_writable(cache_dir, "--cache-dir", folder=True)
    columns = (TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("checking inputs", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what[:40], completed=done, total=total)

        report = run_search(
            model,
            calib,
            eval_dir,
            budget=budget,
            target=target,
            output_dir=output_dir,
            num_images=num_images,
            sensitivity_images=sensitivity_images,
            cache_dir=cache_dir,
            speed_seconds=speed_seconds,
            progress=progress,
        )
    if json:
        print_json(report)
        return
    fp32 = report["candidates"][0]
    table = Table(title=f"{model.name} for {report['target']}, budget {report['budget']} points")
    for column in ("candidate", "float layers", "top-1", "vs fp32", "img/s", "in budget"):
        text = column in ("candidate", "float layers")
        table.add_column(column, justify="left" if text else "right", no_wrap=column != "float layers")
    for c in report["candidates"]:
        speed = f"{c['images_per_s']:,.0f}" if c["images_per_s"] else "unmeasured"
        name = f"[bold]{c['name']}[/] (chosen)" if c["name"] == report["chosen"]["name"] else c["name"]
        floats = ", ".join(c["float_layers"]) or "-"
        table.add_row(name, floats, f"{c['top1']:.2%}", f"{-c['loss_points'] + 0.0:+.2f}", speed,
                      "yes" if c["within_budget"] else "no")  # fmt: skip
    print_table(table, keep={"candidate"})
    top = ", ".join(layer["module"] for layer in report["sensitivity"]["layers"][:5])
    console.print(f"most sensitive layers: {top}", highlight=False)
    console.print(f"accuracy: {fp32['images']:,} images, {report['accuracy_backend']}; speed: {report['speed']}",
                  highlight=False)  # fmt: skip
    files = report["files"]
    written = ", ".join(str(files[key]) for key in ("markdown", "json", "plot") if files[key])
    console.print(f"wrote [bold]{files['artifact']}[/] ({report['chosen']['name']}); report: {written}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    for note in report["notes"]:
        err_console.print(f"note: {note}", highlight=False, markup=False)
