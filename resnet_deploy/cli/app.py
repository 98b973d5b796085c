"""`resnet-deploy`: the command line. Each command parses options, calls one library
function and renders its result. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resnet_deploy import __version__
from resnet_deploy.cli.common import (
    App,
    ArchOpt,
    InputSizeOpt,
    JsonOpt,
    NumClassesOpt,
    OptionalArchOpt,
    WeightsOpt,
    console,
    err_console,
    print_json,
)
from resnet_deploy.errors import ArtifactError

app = App(
    name="resnet-deploy",
    help="ResNets (He et al. 2015, 2016) from PyTorch to ONNX and TensorRT, verified on real images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ShortcutOpt = Annotated[str | None, typer.Option("--shortcut", help="2015 Table 3 shortcut option: A, B or C.")]
ActivationOpt = Annotated[
    str | None,
    typer.Option(
        "--activation",
        help="2016 Fig. 4 unit: original, bn_after_add, relu_before_add, relu_only_preact, full_preact.",
    ),
]
VariantOpt = Annotated[
    str | None,
    typer.Option(
        "--variant",
        help="2016 Fig. 2 shortcut: identity, constant_scaling, exclusive_gating, "
        "shortcut_only_gating, conv1x1, dropout.",
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"resnet-deploy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """ResNets from PyTorch to ONNX and TensorRT, verified on real images."""


def _gmacs(macs: float | None) -> str:
    return "-" if macs is None else f"{macs / 1e9:.3f}"


@app.command()
def models(json: JsonOpt = False) -> None:
    """List every registered architecture with params, MACs and input size."""
    from resnet_deploy.models.flops import model_complexity
    from resnet_deploy.models.registry import list_models

    rows = []
    for card in list_models():
        counts = model_complexity(card.name)
        rows.append(
            {
                "name": card.name,
                "family": card.family,
                "params": counts["params"],
                "macs": counts["macs"],
                "input_size": card.input_size,
                "num_classes": card.num_classes,
                "paper_error": card.paper_error,
            }
        )
    if json:
        print_json(rows)
        return
    table = Table(title="Registered ResNets")
    for column in ("name", "family", "params", "GMACs", "input", "classes", "paper top-1 err %"):
        table.add_column(column, justify="left" if column in ("name", "family") else "right")
    for row in rows:
        table.add_row(
            row["name"],
            row["family"],
            f"{row['params']:,}",
            _gmacs(row["macs"]),
            str(row["input_size"]),
            str(row["num_classes"]),
            "-" if row["paper_error"] is None else f"{row['paper_error']:.2f}",
        )
    console.print(table)


@app.command()
def flops(
    arch: ArchOpt,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    shortcut: ShortcutOpt = None,
    activation: ActivationOpt = None,
    variant: VariantOpt = None,
    json: JsonOpt = False,
) -> None:
    """Params, MACs (conv + fc multiply-adds, the papers' "FLOPs") and FLOPs (2 x MACs)."""
    from resnet_deploy.models.flops import model_complexity
    from resnet_deploy.models.registry import get_card

    result = model_complexity(
        arch,
        input_size=input_size,
        num_classes=num_classes,
        shortcut=shortcut,
        activation=activation,
        variant=variant,
    )
    if json:
        print_json(result)
        return
    card = get_card(arch, num_classes=num_classes, input_size=input_size)
    table = Table(title=f"{arch} at {result['input_size']}x{result['input_size']}", show_header=False)
    table.add_row("params", f"{result['params']:,}")
    table.add_row("MACs", f"{result['macs']:,} ({_gmacs(result['macs'])} G)")
    table.add_row("FLOPs (2 x MACs)", f"{result['flops']:,}")
    if card.ref_macs is not None and not (shortcut or activation or variant):
        table.add_row("reference MACs", f"{_gmacs(card.ref_macs)} G ({card.reference})")
    console.print(table)


@app.command()
def doctor(json: JsonOpt = False) -> None:
    """Which backends are usable here, their versions, and what that means."""
    from resnet_deploy.doctor import environment_report

    report = environment_report()
    if json:
        print_json(report)
        return
    table = Table(title="resnet-deploy doctor")
    table.add_column("component")
    table.add_column("status")
    torch_info = report["torch"]
    if torch_info["installed"]:
        gpus = ", ".join(f"{g['name']} (sm {g['compute_capability']})" for g in torch_info["gpus"]) or "no GPU"
        table.add_row("torch", f"{torch_info['version']} (CUDA build {torch_info['cuda_build']}; {gpus})")
    else:
        table.add_row("torch", "[red]missing[/]")
    for key in ("onnxruntime", "tensorrt", "tensorrt_rtx"):
        info = report[key]
        if info["installed"]:
            extra = f" providers: {', '.join(info['providers'])}" if "providers" in info else ""
            table.add_row(key, f"{info['version']}{extra}")
        else:
            table.add_row(key, f"[yellow]not installed[/] ({info['reason']})")
    table.add_row("python", f"{report['python']} on {report['platform']}")
    console.print(table)
    for line in report["verdict"]:
        console.print(f"- {line}", highlight=False)


BatchOpt = Annotated[str | None, typer.Option("--batch", help="Batch range MIN:OPT:MAX (a fixed batch if MIN == MAX).")]
ImagesOpt = Annotated[Path | None, typer.Option("--images", help="Folder of real images (searched recursively).")]
BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="torch, onnxruntime or tensorrt (default: from the file type).")
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")]
NoSidecarCheckOpt = Annotated[
    bool, typer.Option("--no-sidecar-check", help="Load a .plan without checking its sidecar (at your risk).")
]
AllowHostCodeOpt = Annotated[
    bool, typer.Option("--allow-host-code", help="Let a trusted .plan run embedded host code (off by default).")
]
BatchSizeOpt = Annotated[int | None, typer.Option("--batch-size", help="Images per batch (default: from the model).")]


@app.command()
def export(
    arch: ArchOpt,
    weights: WeightsOpt = None,
    num_classes: NumClassesOpt = None,
    input_size: InputSizeOpt = None,
    batch: BatchOpt = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset.")] = 17,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: export/<arch>.onnx")] = None,
    shortcut: ShortcutOpt = None,
    activation: ActivationOpt = None,
    variant: VariantOpt = None,
    precision: Annotated[str, typer.Option("--precision", help="fp32, or fp16 (float32 I/O).")] = "fp32",
    json: JsonOpt = False,
) -> None:
    """Export a model to ONNX (input `input`, output `logits`, metadata embedded)."""
    from resnet_deploy.exporting.export import export_onnx
    from resnet_deploy.exporting.metadata import BatchRange

    if precision not in ("fp32", "fp16"):
        raise ArtifactError(f"--precision {precision!r}: export writes fp32 or fp16; for int8 use `calibrate`")
    batch_range = BatchRange.parse(batch) if batch else None
    options = {"shortcut": shortcut, "activation": activation, "variant": variant}
    if weights is None:
        err_console.print(
            f"[bold yellow]WARNING: no --weights: exporting {arch} with RANDOM weights (seeded); "
            "its predictions are meaningless.[/]",
            highlight=False,
        )
    with tempfile.TemporaryDirectory() as tmp:
        fp32_output = Path(tmp) / f"{arch}.onnx" if precision == "fp16" else output
        result = export_onnx(
            arch,
            weights=weights,
            num_classes=num_classes,
            input_size=input_size,
            batch=batch_range,
            opset=opset,
            output=fp32_output,
            options=options,
        )
        if precision == "fp16":
            from resnet_deploy.quant.fp16 import convert_fp16

            half = convert_fp16(result.path, output or Path("export") / f"{arch}_fp16.onnx")
            result = dataclasses.replace(result, path=half.path)
    if json:
        print_json({**result.to_dict(), "precision": precision})
        return
    meta = result.metadata
    console.print(
        f"wrote [bold]{result.path}[/] ({result.nodes} nodes, opset {opset}) in {result.seconds:.1f}s: "
        f"{meta.arch}, {meta.num_classes} classes, {meta.input_size}x{meta.input_size}, batch {meta.batch}, "
        f"weights {meta.weights_sha256[:12]}",
        highlight=False,
    )


@app.command()
def check(
    model: Annotated[Path, typer.Argument(help="ONNX file written by `resnet-deploy export`.")],
    weights: WeightsOpt = None,
    images: ImagesOpt = None,
    num_images: Annotated[int, typer.Option("--num-images", help="Images (or random inputs) to compare.")] = 256,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    json: JsonOpt = False,
) -> None:
    """Parity of onnxruntime against the PyTorch reference; exit 0 on pass, 1 on fail."""
    from resnet_deploy.exporting.parity import check_parity

    if images is None:
        err_console.print("note: no --images: comparing on seeded random inputs, not real images", highlight=False)
    report = check_parity(model, weights=weights, images=images, num_images=num_images, batch_size=batch_size)
    if json:
        print_json(report.to_dict())
    else:
        c, tol = report.comparison, report.tolerance
        table = Table(title=f"parity: onnxruntime vs PyTorch on {report.images} {report.inputs} inputs")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("bound", justify="right")
        table.add_row("max |diff|", f"{c.max_abs_diff:.3g}", f"<= {tol.atol + tol.rtol * c.reference_max_abs:.3g}")
        table.add_row("mean |diff|", f"{c.mean_abs_diff:.3g}", "")
        table.add_row("min cosine", f"{c.min_cosine:.7f}", f">= {tol.min_cosine}")
        table.add_row("top-1 agreement", f"{c.top1_agreement:.2%}", f">= {tol.min_top1_agreement:.1%}")
        console.print(table)
        console.print("[green]PASS[/]" if report.passed else "[red]FAIL[/]", f"({report.precision} tolerances)")
    if not report.passed:
        raise typer.Exit(1)


@app.command(name="eval")
def eval_command(
    artifact: Annotated[str, typer.Argument(help="An .onnx, .plan, checkpoint, or registered arch name.")],
    images: Annotated[Path, typer.Option("--images", help="Labelled folder: <class>/<image>.")],
    arch: OptionalArchOpt = None,
    weights: WeightsOpt = None,
    backend: BackendOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchSizeOpt = None,
    workers: Annotated[int, typer.Option("--workers", help="Decoding threads.")] = 4,
    no_sidecar_check: NoSidecarCheckOpt = False,
    allow_host_code: AllowHostCodeOpt = False,
    json: JsonOpt = False,
) -> None:
    """Top-1 and top-5 accuracy on a labelled ImageFolder tree."""
    from resnet_deploy.backends import open_runner
    from resnet_deploy.evaluate import evaluate

    with open_runner(
        artifact,
        backend,
        arch=arch,
        weights=weights,
        device=device,
        check_sidecar=not no_sidecar_check,
        allow_host_code=allow_host_code,
    ) as runner:
        report = evaluate(runner, images, batch_size=batch_size, workers=workers)
    if json:
        print_json(report.to_dict())
        return
    console.print(
        f"{artifact} on {report.backend}: top-1 [bold]{report.top1:.2%}[/], top-5 {report.top5:.2%} "
        f"over {report.images:,} images ({report.errors} unreadable, skipped) in {report.seconds:.1f}s",
        highlight=False,
    )
    for path, reason in report.error_samples[:5]:
        err_console.print(f"  skipped {path}: {reason}", highlight=False)


@app.command()
def calibrate(
    model: Annotated[Path, typer.Argument(help="Float32 ONNX written by `resnet-deploy export`.")],
    images: Annotated[Path, typer.Option("--images", help="Calibration images (any folder, searched recursively).")],
    num_images: Annotated[int, typer.Option("--num-images", help="Images to calibrate on.")] = 512,
    method: Annotated[str, typer.Option("--method", help="percentile, entropy or minmax.")] = "percentile",
    percentile: Annotated[float, typer.Option("--percentile", help="For --method percentile.")] = 99.99,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: <model>_int8.onnx")] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Calibration statistics cache.")] = Path("calib"),
    json: JsonOpt = False,
) -> None:
    """INT8: calibrate on real images and write a TensorRT-ready QDQ ONNX."""
    from resnet_deploy.quant.calibrate import calibrate_int8

    result = calibrate_int8(
        model, images, num_images=num_images, method=method, percentile=percentile, output=output, cache_dir=cache_dir
    )
    if json:
        print_json(result.to_dict())
        return
    source = "cached statistics (no images read)" if result.cache_hit else f"{result.images} images"
    console.print(f"wrote [bold]{result.path}[/]: int8 QDQ, {result.method} calibration on {source} "
                  f"in {result.seconds:.1f}s", highlight=False)  # fmt: skip
    if result.corrupt:
        err_console.print(f"skipped {result.corrupt} unreadable images", highlight=False)
    if result.resized:
        size = result.metadata.input_size
        note = f"note: {result.resized} images were not {size}x{size}; resized by the model's preprocessing"
        err_console.print(note, highlight=False)
    for mode, count in result.converted.items():
        err_console.print(f"note: {count} {mode} images converted to RGB", highlight=False)


@app.command()
def fp16(
    model: Annotated[Path, typer.Argument(help="Float32 ONNX written by `resnet-deploy export`.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: <model>_fp16.onnx")] = None,
    json: JsonOpt = False,
) -> None:
    """FP16 weights and activations with float32 inputs and outputs."""
    from resnet_deploy.quant.fp16 import convert_fp16

    result = convert_fp16(model, output)
    if json:
        print_json(result.to_dict())
        return
    console.print(f"wrote [bold]{result.path}[/]: fp16, {result.fp16_initializers} fp16 initializers", highlight=False)


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


@app.command()
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: engines/<name>_<precision>.plan")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Build a TensorRT plan (and its sidecar) from an ONNX."""
    from resnet_deploy.exporting.metadata import BatchRange
    from resnet_deploy.trt.builder import build_engine

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
    )
    if result.converted_from:
        console.print(f"converted {result.converted_from} to FP16 first (strongly typed build)", highlight=False)
    if timing_cache and result.timing_cache is None:
        err_console.print("note: TensorRT-RTX has no timing cache (it caches kernels at run time); ignored")


@app.command()
def inspect(
    plan: Annotated[Path, typer.Argument(help="A .plan built by `resnet-deploy build`.")],
    json: JsonOpt = False,
) -> None:
    """Show a plan's sidecar summary and its layers."""
    from resnet_deploy.trt.inspect import inspect_plan

    info = inspect_plan(plan)
    if json:
        print_json(info)
        return
    table = Table(title=f"{plan}", show_header=False)
    for key in ("built_for", "precision", "profile", "inputs", "outputs", "arch", "num_classes", "onnx",
                "plan_sha256", "built_at"):  # fmt: skip
        table.add_row(key, str(info[key]))
    console.print(table)
    layers = Table(title=f"{len(info['layers'])} layers (from the {info['layers_source']})")
    layers.add_column("name")
    layers.add_column("type")
    layers.add_column("dtype")
    for layer in info["layers"][:60]:
        if isinstance(layer, dict):  # the build record, or the inspector's DETAILED JSON
            name = layer.get("name", layer.get("Name", ""))
            kind = layer.get("type", layer.get("LayerType", ""))
            layers.add_row(str(name), str(kind), str(layer.get("dtype", "")))
        else:  # the inspector's LAYER_NAMES_ONLY form
            layers.add_row(str(layer), "", "")
    console.print(layers)


@app.command()
def infer(
    paths: Annotated[list[str], typer.Argument(help="Image files, folders (recursive) or @list.txt files.")],
    engine: Annotated[str, typer.Option("--engine", help="A .plan, .onnx, checkpoint, or registered arch name.")],
    backend: BackendOpt = None,
    arch: OptionalArchOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchSizeOpt = None,
    topk: Annotated[int, typer.Option("--topk", help="Labels per image, with softmax probabilities.")] = 5,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Results file, .jsonl or .csv (default: JSONL on stdout).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Decoding threads.")] = 4,
    resume: Annotated[bool, typer.Option("--resume", help="Complete an interrupted --output file.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any image failed.")] = False,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Run on Ray: a cluster ADDRESS (ray://host:10001, auto), or `local`."),
    ] = None,
    actors: Annotated[
        int | None, typer.Option("--actors", help="With --ray: inference actors (default: 1/GPU).")
    ] = None,
    no_sidecar_check: NoSidecarCheckOpt = False,
    allow_host_code: AllowHostCodeOpt = False,
    json: JsonOpt = False,
) -> None:
    """Classify images in batches; every input becomes one row (a prediction or an error)."""
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from resnet_deploy.backends import open_runner
    from resnet_deploy.infer.pipeline import run_infer
    from resnet_deploy.infer.sources import expand_inputs
    from resnet_deploy.infer.writers import ResultWriter, output_format

    fmt = output_format(output) if output else "jsonl"
    inputs = expand_inputs(paths)
    writer = ResultWriter(output, fmt, stream=sys.stdout)
    report_console = console if output else err_console  # stdout may be carrying the rows
    columns = (TextColumn("infer"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed} img/s"),
               TimeElapsedColumn())  # fmt: skip
    options = dict(arch=arch, weights=weights, device=device, check_sidecar=not no_sidecar_check,
                   allow_host_code=allow_host_code)  # fmt: skip
    with (
        open_runner(engine, backend, **options) as runner,
        Progress(*columns, console=err_console, transient=True) as bar,
    ):
        task = bar.add_task("infer", total=len(inputs))
        if ray is None:
            summary = run_infer(runner, inputs, writer, batch_size=batch_size, topk=topk, workers=workers,
                                resume=resume, progress=lambda n: bar.advance(task, n))  # fmt: skip
        else:
            from resnet_deploy.evaluate import default_batch_size
            from resnet_deploy.infer.ray_pipeline import run_infer_ray

            summary = run_infer_ray(
                engine, {"backend": backend, **options}, runner.metadata, inputs, writer,
                address=None if ray == "local" else ray, batch_size=batch_size or default_batch_size(runner),
                topk=topk, actors=actors, resume=resume, progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
    data = summary.to_dict()
    if json:
        report_console.print_json(data=data) if output else err_console.print_json(data=data)
    else:
        lat = data["batch_latency_ms"]
        report_console.print(
            f"{data['images']:,} images: {data['ok']:,} ok, {data['errors']:,} errors"
            + (f" ({data['resumed_from']:,} done before resuming)" if data["resumed_from"] else "")
            + f"; {data['wall_s']:.1f}s wall, {data['images_per_s']:,.1f} img/s on {data['backend']}; "
            f"batch latency p50 {lat['p50']:.1f} / p90 {lat['p90']:.1f} / p99 {lat['p99']:.1f} ms; "
            f"backend compute {data['compute_share']:.0%} of wall time",
            highlight=False,
        )
    if strict and summary.errors:
        raise typer.Exit(1)


def _csv_list(text: str, kind: type = str) -> list:
    try:
        return [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ArtifactError(f"{text!r} is not a comma-separated list of {kind.__name__}") from None


@app.command()
def bench(
    arch: Annotated[str, typer.Option("--arch", help="Registered architecture to benchmark.")] = "resnet50",
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="Artifacts to benchmark instead (.plan, .onnx); repeatable.")
    ] = None,
    backends: Annotated[
        str, typer.Option("--backends", help="Comma list of torch, torch-compile, onnxruntime, tensorrt.")
    ] = "torch,onnxruntime",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    precision: Annotated[str, typer.Option("--precision", help="Comma list of fp32, fp16, int8.")] = "fp32",
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Comma list of batch sizes.")] = "1,8,32,128",
    warmup_s: Annotated[float, typer.Option("--warmup-s", help="Warm-up time per measurement.")] = 2.0,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Measured time per measurement.")] = 5.0,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the results as CSV.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG: throughput and latency.")] = None,
    json: JsonOpt = False,
) -> None:
    """Latency percentiles, throughput and FLOP/s per backend x precision x batch size."""
    from resnet_deploy.bench.outputs import write_csv, write_plot
    from resnet_deploy.bench.sweep import run_bench

    def show(row: dict) -> None:
        if not json:
            what = f"{row['backend']} {row['precision']} batch {row['batch']}"
            err_console.print(f"  measured {what}: {row['status']}", highlight=False)

    report = run_bench(
        arch=arch,
        engines=engine or [],
        backends=_csv_list(backends),
        device=device,
        precisions=_csv_list(precision),
        batch_sizes=_csv_list(batch_sizes, int),
        warmup_s=warmup_s,
        duration_s=duration_s,
        on_result=show,
    )
    if csv_file:
        write_csv(report, csv_file)
    if plot:
        write_plot(report, plot)
    if json:
        print_json(report.to_dict())
        return
    env = report.environment
    gpu = env["gpu"] or "none"
    versions = f"torch {env['torch']}, onnxruntime {env['onnxruntime']}, tensorrt {env['tensorrt'] or '-'}"
    console.print(f"CPU {env['cpu']} ({env['cpu_cores']} cores), GPU {gpu}; {versions}", highlight=False)
    table = Table(title=f"bench {', '.join(engine) if engine else arch}")
    on_gpu = any("gpu_compute_ms" in row for row in report.results)
    columns = ("backend", "prec", "batch", "mean ms", "p50", "p99", "img/s", "GFLOP/s")
    columns += ("GPU ms", "% peak") if on_gpu else ()
    for column in columns:
        table.add_column(column, justify="left" if column in ("backend", "prec") else "right")
    for row in report.results:
        if row["status"] == "ok":
            lat = row["latency_ms"]
            table.add_row(
                row["backend"],
                row["precision"],
                str(row["batch"]),
                *(f"{lat[k]:.2f}" for k in ("mean", "p50", "p99")),
                f"{row['throughput']:,.1f}",
                f"{row['gflops']:,.1f}",
                *(
                    (
                        f"{row['gpu_compute_ms']:.2f}" if "gpu_compute_ms" in row else "-",
                        f"{row['peak_fraction']:.1%}" if "peak_fraction" in row else "-",
                    )
                    if on_gpu
                    else ()
                ),
            )
    console.print(table)
    for row in report.results:
        if row["status"] != "ok":
            where = f"{row['backend']} {row['precision']}" + (f" batch {row['batch']}" if row["batch"] else "")
            console.print(f"{row['status']}: {where}: {row['reason']}", highlight=False)


@app.command()
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
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's checkpoint.")] = False,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Decoding threads.")] = 4,
    json: JsonOpt = False,
) -> None:
    """Train with the papers' CIFAR recipe; a checkpoint after every epoch, resumable."""
    from resnet_deploy.train.trainer import CHECKPOINT, TrainConfig
    from resnet_deploy.train.trainer import train as run_training

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

    last = run_training(config, resume=resume, on_epoch=report)
    if json:
        print_json({**last, "checkpoint": str(output / CHECKPOINT)})
    else:
        console.print(f"checkpoint: {output / CHECKPOINT}", highlight=False)


@app.command()
def demo(
    images: Annotated[
        Path | None, typer.Argument(help="Images to classify (default: the shared CIFAR-10 test JPEGs).")
    ] = None,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where the demo's artifacts go.")] = Path("demo"),
    json: JsonOpt = False,
) -> None:
    """The whole pipeline on the embedded ResNet-20: export, check, calibrate, build, infer, bench."""
    from resnet_deploy.demo import run_demo

    summary = run_demo(images, workdir=workdir, log=lambda line: err_console.print(f"> {line}", highlight=False))
    if json:
        print_json(summary)
        return
    table = Table(title=f"resnet-deploy demo ({summary['seconds']}s)", show_header=False)
    check = summary["check"]
    table.add_row("export", summary["export"]["onnx"])
    table.add_row("check", f"{'PASS' if check['passed'] else 'FAIL'}: max |diff| {check['max_abs_diff']:.2e}, "
                  f"top-1 agreement {check['top1_agreement']:.2%}")  # fmt: skip
    table.add_row("calibrate", f"{summary['calibrate']['onnx']} ({summary['calibrate']['method']})")
    for precision, plan in summary["build"].items():
        table.add_row(f"build {precision}", plan.get("plan", "") + (f" ({plan['mb']} MB, {plan['runtime']})"
                      if "plan" in plan else plan.get("skipped", "")))  # fmt: skip
    infer_data = summary["infer"]
    table.add_row("infer", f"{infer_data['images']:,} images, {infer_data['errors']} errors, "
                  f"{infer_data['images_per_s']:,.0f} img/s -> {infer_data['output']}")  # fmt: skip
    for name, top1 in summary.get("accuracy", {}).items():
        table.add_row(f"top-1 {name}", f"{top1:.2%}")
    for row in summary["bench"]:
        if row["status"] == "ok":
            table.add_row(
                f"bench {row['backend']} b{row['batch']}", f"{row['throughput']:,.0f} img/s, p50 {row['p50_ms']:.2f} ms"
            )
    console.print(table)


@app.command(name="triton-repo")
def triton_repo(
    artifacts: Annotated[list[Path], typer.Argument(help=".onnx or .plan files (with sidecars).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model repository folder.")],
    max_batch: Annotated[int | None, typer.Option("--max-batch", help="Default: the model's batch maximum.")] = None,
    dynamic_batching: Annotated[
        bool, typer.Option("--dynamic-batching/--no-dynamic-batching", help="Triton dynamic batching.")
    ] = True,
    instances: Annotated[int, typer.Option("--instances", help="Model instances (instance_group count).")] = 1,
    json: JsonOpt = False,
) -> None:
    """Write a Triton Inference Server model repository."""
    try:
        from resnet_deploy.serve.triton import write_triton_repo

        written = write_triton_repo(artifacts, output, max_batch=max_batch, dynamic_batching=dynamic_batching,
                                    instances=instances)  # fmt: skip
    except ModuleNotFoundError as exc:
        raise ArtifactError(
            f"triton-repo needs tritonclient ({exc.name}): pip install 'resnet-deploy[triton]'"
        ) from None
    if json:
        print_json({"repository": str(output), "models": [str(p) for p in written]})
        return
    for path in written:
        console.print(f"wrote {path}", highlight=False)


@app.command()
def serve(
    artifact: Annotated[str, typer.Argument(help="An .onnx, .plan, checkpoint or arch name to serve.")],
    model_name: Annotated[str, typer.Option("--model-name", help="The name clients ask for.")] = "resnet",
    http_port: Annotated[int, typer.Option("--http-port")] = 8000,
    grpc_port: Annotated[int, typer.Option("--grpc-port")] = 8001,
    metrics_port: Annotated[int, typer.Option("--metrics-port")] = 8002,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Triton's dynamic batching limit.")] = 64,
) -> None:
    """Serve a model with a real Triton Inference Server (PyTriton) until interrupted."""
    import signal
    import threading

    from resnet_deploy.serve.pytriton_server import serve as serve_model

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve_model(artifact, model_name=model_name, http_port=http_port, grpc_port=grpc_port,
                     metrics_port=metrics_port, max_batch=max_batch) as url:  # fmt: skip
        err_console.print(f"serving {model_name} at {url} (KServe v2: {url}/v2/models/{model_name}/infer)")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


def run() -> None:
    app()


if __name__ == "__main__":
    run()
