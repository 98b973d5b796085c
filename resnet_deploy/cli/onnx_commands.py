"""ONNX commands: export, check, eval, calibrate, fp16."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resnet_deploy.cli.common import (
    ActivationOpt,
    AllowHostCodeOpt,
    ArchOpt,
    BackendOpt,
    BatchOpt,
    BatchSizeOpt,
    DeviceOpt,
    DownloadBar,
    ImagesOpt,
    InputSizeOpt,
    JsonOpt,
    NoSidecarCheckOpt,
    NumClassesOpt,
    OptionalArchOpt,
    ShortcutOpt,
    VariantOpt,
    WeightsOpt,
    app,
    console,
    err_console,
    print_json,
    print_table,
    resolve_weights_option,
    runner_weights,
    warn_if_random,
)
from resnet_deploy.errors import ArtifactError
from resnet_deploy.outputs import ONNX_SUFFIXES, check_output, check_writable


@app.command(rich_help_panel="ONNX, parity, accuracy, precision")
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
    check_output(output, ONNX_SUFFIXES, default_folder="export")
    batch_range = BatchRange.parse(batch) if batch else None
    options = {"shortcut": shortcut, "activation": activation, "variant": variant}
    weights_file = resolve_weights_option(arch, weights)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_output = Path(tmp) / f"{arch}.onnx" if precision == "fp16" else output
        result = export_onnx(
            arch,
            weights=weights_file,
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
    warn_if_random(result.random_init, f"{result.path} ({arch}, --weights random)")
    if json:
        print_json({**result.to_dict(), "precision": precision})
        return
    meta = result.metadata
    source = meta.weight_set.get("name") or (weights_file.name if weights_file else "random")
    console.print(
        f"wrote [bold]{result.path}[/] ({result.nodes} nodes, opset {opset}) in {result.seconds:.1f}s: "
        f"{meta.arch}, {meta.num_classes} classes, {meta.input_size}x{meta.input_size}, batch {meta.batch}, "
        f"weights {source} ({meta.weights_sha256[:12]})",
        highlight=False,
        soft_wrap=True,  # a path is never broken over lines
    )


@app.command(rich_help_panel="ONNX, parity, accuracy, precision")
def check(
    model: Annotated[Path, typer.Argument(help="An .onnx from `export` (or a .plan from `build`).")],
    weights: WeightsOpt = None,
    images: ImagesOpt = None,
    num_images: Annotated[int, typer.Option("--num-images", help="Images (or random inputs) to compare.")] = 256,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    json: JsonOpt = False,
) -> None:
    """Parity of onnxruntime (or a TensorRT plan) against PyTorch; exit 0 on pass, 1 on fail."""
    from resnet_deploy.exporting.parity import check_parity

    if images is None:
        err_console.print("note: no --images: comparing on seeded random inputs, not real images", highlight=False)
    with DownloadBar() as progress:
        report = check_parity(model, weights=weights, images=images, num_images=num_images, batch_size=batch_size,
                              progress=progress)  # fmt: skip
    warn_if_random(report.random_init, f"{model} (and so its PyTorch reference)")
    if json:
        print_json(report.to_dict())
    else:
        c, tol = report.comparison, report.tolerance
        table = Table(title=f"parity: {report.backend} vs PyTorch on {report.images} {report.inputs} inputs")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("bound", justify="right")
        table.add_row("max |diff|", f"{c.max_abs_diff:.3g}", f"<= {tol.atol + tol.rtol * c.reference_max_abs:.3g}")
        table.add_row("mean |diff|", f"{c.mean_abs_diff:.3g}", "")
        table.add_row("min cosine", f"{c.min_cosine:.7f}", f">= {tol.min_cosine}")
        table.add_row("top-1 agreement", f"{c.top1_agreement:.2%}", f">= {tol.min_top1_agreement:.1%}")
        print_table(table, keep={"metric"})
        console.print("[green]PASS[/]" if report.passed else "[red]FAIL[/]", f"({report.precision} tolerances)")
    if not report.passed:
        raise typer.Exit(1)


@app.command(name="eval", rich_help_panel="ONNX, parity, accuracy, precision")
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
    from resnet_deploy.cli.progress import image_progress
    from resnet_deploy.evaluate import evaluate

    with open_runner(
        artifact,
        backend,
        arch=arch,
        weights=runner_weights(artifact, arch, weights),
        device=device,
        check_sidecar=not no_sidecar_check,
        allow_host_code=allow_host_code,
    ) as runner:
        warn_if_random(runner.metadata is not None and runner.metadata.random_init, artifact)
        bar, progress = image_progress("eval", err_console)
        with bar:
            report = evaluate(runner, images, batch_size=batch_size, workers=workers, progress=progress)
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


@app.command(rich_help_panel="ONNX, parity, accuracy, precision")
def calibrate(
    model: Annotated[Path, typer.Argument(help="Float32 ONNX written by `resnet-deploy export`.")],
    images: Annotated[Path, typer.Option("--images", help="Calibration images (any folder, searched recursively).")],
    num_images: Annotated[int, typer.Option("--num-images", help="Images to calibrate on.")] = 512,
    method: Annotated[str, typer.Option("--method", help="percentile, entropy or minmax.")] = "percentile",
    percentile: Annotated[float, typer.Option("--percentile", help="For --method percentile.")] = 99.99,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: <model>_int8.onnx (_int8_cpu.onnx for the CPU)")
    ] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Calibration statistics cache.")] = Path("calib"),
    target: Annotated[
        str,
        typer.Option("--target", help="tensorrt (Q/DQ for TensorRT builds) or onnxruntime-cpu (fused int8 on CPUs)."),
    ] = "tensorrt",
    json: JsonOpt = False,
) -> None:
    """INT8: calibrate on real images and write a QDQ ONNX for TensorRT or onnxruntime's CPU kernels."""
    from resnet_deploy.quant.calibrate import calibrate_int8

    check_output(output, ONNX_SUFFIXES, default_folder=model.parent)
    check_writable(cache_dir, "--cache-dir", folder=True)
    result = calibrate_int8(
        model,
        images,
        num_images=num_images,
        method=method,
        percentile=percentile,
        output=output,
        cache_dir=cache_dir,
        target=target,
    )
    warn_if_random(result.metadata.random_init, str(model))
    if json:
        print_json(result.to_dict())
        return
    source = "cached statistics (no images read)" if result.cache_hit else f"{result.images} images"
    console.print(f"wrote [bold]{result.path}[/]: int8 QDQ for {result.target}, {result.method} calibration "
                  f"on {source} in {result.seconds:.1f}s", highlight=False, soft_wrap=True)  # fmt: skip
    if result.corrupt:
        err_console.print(f"skipped {result.corrupt} unreadable images", highlight=False)
    if result.resized:
        size = result.metadata.input_size
        note = f"note: {result.resized} images were not {size}x{size}; resized by the model's preprocessing"
        err_console.print(note, highlight=False)
    for mode, count in result.converted.items():
        err_console.print(f"note: {count} {mode} images converted to RGB", highlight=False)


@app.command(rich_help_panel="ONNX, parity, accuracy, precision")
def fp16(
    model: Annotated[Path, typer.Argument(help="Float32 ONNX written by `resnet-deploy export`.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: <model>_fp16.onnx")] = None,
    json: JsonOpt = False,
) -> None:
    """FP16 weights and activations with float32 inputs and outputs."""
    from resnet_deploy.quant.fp16 import convert_fp16

    check_output(output, ONNX_SUFFIXES, default_folder=model.parent)
    result = convert_fp16(model, output)
    if json:
        print_json(result.to_dict())
        return
    console.print(f"wrote [bold]{result.path}[/]: fp16, {result.fp16_initializers} fp16 initializers",
                  highlight=False, soft_wrap=True)  # fmt: skip
