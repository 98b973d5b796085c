"""TensorRT commands: build, inspect."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resnet_deploy.cli.common import (
    BatchOpt,
    JsonOpt,
    app,
    console,
    err_console,
    print_json,
    print_table,
)
from resnet_deploy.outputs import PLAN_SUFFIXES, check_output

LAYERS_SHOWN = 60


class _PhaseProgress:
    """A progress bar for the builder's phases, shown only once building has started."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar, self.task = enabled, None, None

    def __call__(self, phase: str, step: int, steps: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
            self.bar = Progress(*columns, console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(phase, total=None)
        self.bar.update(self.task, description=phase, completed=step, total=steps or None)

    def __enter__(self) -> _PhaseProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command(rich_help_panel="TensorRT engines")
def build(
    model: Annotated[Path, typer.Argument(help="ONNX: float32, FP16 or INT8 QDQ.")],
    precision: Annotated[
        str, typer.Option("--precision", help="auto (from the ONNX), fp32, fp16 (converts), int8 (QDQ ONNX).")
    ] = "auto",
    batch: BatchOpt = None,
    workspace_gb: Annotated[float, typer.Option("--workspace-gb", help="Builder workspace limit.")] = 4.0,
    timing_cache: Annotated[
        Path | None, typer.Option("--timing-cache", help="TensorRT timing cache (default: one per GPU).")
    ] = None,
    runtime: Annotated[str, typer.Option("--runtime", help="auto, tensorrt or tensorrt-rtx.")] = "auto",
    hardware_compatible: Annotated[
        bool, typer.Option("--hardware-compatible", help="TensorRT: run on any Ampere+ GPU (slower tactics).")
    ] = False,
    strict_fp32: Annotated[
        bool, typer.Option("--strict-fp32", help="Float32 layers stay float32 (TensorRT runs them as TF32 by default).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: engines/<name>_<precision>.plan")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Build a TensorRT plan (and its sidecar) from an ONNX."""
    from resnet_deploy.exporting.metadata import BatchRange
    from resnet_deploy.trt.builder import build_engine

    check_output(output, PLAN_SUFFIXES, default_folder="engines")
    batch_range = BatchRange.parse(batch) if batch else None
    with _PhaseProgress(enabled=not json) as progress:
        result = build_engine(
            model,
            precision=precision,
            batch=batch_range,
            workspace_gb=workspace_gb,
            timing_cache=timing_cache,
            runtime=runtime,
            output=output,
            hardware_compatible=hardware_compatible,
            strict_fp32=strict_fp32,
            progress=progress,
        )
    if json:
        print_json(result.to_dict())
        return
    s = result.sidecar
    console.print(
        f"wrote [bold]{result.plan}[/] ({s.plan_bytes / 1e6:.1f} MB, {s.precision}, batch "
        f"{s.profile['min'][0]}:{s.profile['opt'][0]}:{s.profile['max'][0]}) with {s.built_for()} "
        f"in {s.build_seconds:.1f}s",
        highlight=False,
        soft_wrap=True,  # a path is never broken over lines
    )
    if result.converted_from:
        console.print(f"converted {result.converted_from} to FP16 first (strongly typed build)", highlight=False)
    if timing_cache and result.timing_cache is None:
        err_console.print("note: TensorRT-RTX has no timing cache (it caches kernels at run time); ignored")


@app.command(rich_help_panel="TensorRT engines")
def inspect(
    plan: Annotated[Path, typer.Argument(help="A .plan built by `resnet-deploy build`.")],
    all_layers: Annotated[bool, typer.Option("--all", help=f"Show every layer, not the first {LAYERS_SHOWN}.")] = False,
    json: JsonOpt = False,
) -> None:
    """Show a plan's sidecar summary and its layers."""
    from resnet_deploy.trt.inspect import inspect_plan

    info = inspect_plan(plan)
    if json:
        print_json(info)
        return
    table = Table(title=f"{plan}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key in ("built_for", "precision", "profile", "inputs", "outputs", "arch", "num_classes", "onnx", "built_at"):
        table.add_row(key, str(info[key]))
    print_table(table, keep={"key"})
    # A hash is copied whole: on its own line, never folded into a table cell.
    console.print(f"plan_sha256 {info['plan_sha256']}", highlight=False, soft_wrap=True)
    layers_info = info["layers"]
    shown = layers_info if all_layers else layers_info[:LAYERS_SHOWN]
    layers = Table(title=f"{len(layers_info)} layers (from the {info['layers_source']})")
    layers.add_column("name")
    layers.add_column("type")
    layers.add_column("dtype")
    for layer in shown:
        if isinstance(layer, dict):  # the build record, or the inspector's DETAILED JSON
            name = layer.get("name", layer.get("Name", ""))
            kind = layer.get("type", layer.get("LayerType", ""))
            layers.add_row(str(name), str(kind), str(layer.get("dtype", "")))
        else:  # the inspector's LAYER_NAMES_ONLY form
            layers.add_row(str(layer), "", "")
    print_table(layers, keep={"type", "dtype"})
    if len(shown) < len(layers_info):
        console.print(f"showing {len(shown)} of {len(layers_info)} layers; --all or --json for all", highlight=False)
