"""The main jobs: infer and bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from resnet_deploy.cli.common import (
    AllowHostCodeOpt,
    BackendOpt,
    BatchSizeOpt,
    DeviceOpt,
    JsonOpt,
    NoSidecarCheckOpt,
    OptionalArchOpt,
    WeightsOpt,
    app,
    console,
    err_console,
    print_json,
    print_table,
    runner_weights,
    warn_if_random,
)
from resnet_deploy.errors import ArtifactError
from resnet_deploy.outputs import CSV_SUFFIXES, PNG_SUFFIXES, check_output, check_writable


@app.command(rich_help_panel="Inference and benchmarks")
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
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Results file, .jsonl or .csv (default: JSONL on stdout); with --ray, DIR/ or s3://bucket/prefix/ "
            "for JSONL shards written by the workers, with a manifest.",
        ),
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
    shard_size: Annotated[
        int | None,
        typer.Option("--shard-size", help="With --output DIR/: inputs per shard (default: ~32 MB of pixels)."),
    ] = None,
    no_sidecar_check: NoSidecarCheckOpt = False,
    allow_host_code: AllowHostCodeOpt = False,
    json: JsonOpt = False,
) -> None:
    """Classify images in batches; every input becomes one row (a prediction or an error)."""
    import sys

    from resnet_deploy.backends import open_runner
    from resnet_deploy.backends.batching import resolve_batch_size
    from resnet_deploy.cli.progress import image_progress
    from resnet_deploy.infer.listing import iter_inputs
    from resnet_deploy.infer.pipeline import run_infer
    from resnet_deploy.infer.sources import expand_inputs
    from resnet_deploy.infer.writers import ResultWriter, output_format

    sharded = _check_infer_target(paths, output, ray, shard_size)
    output_file = Path(output) if output and not sharded else None
    fmt = output_format(output_file) if output_file else "jsonl"
    if output:
        check_writable(output, folder=sharded)  # before any work; remote prefixes are left to their client
    if sharded:
        inputs = []  # listed by the job itself, streamed into the output folder
    elif ray is not None:
        inputs = list(iter_inputs(paths))  # URIs stay strings; a duplicate is classified once, as on one machine
    else:
        inputs = expand_inputs(paths)
    writer = ResultWriter(output_file, fmt, stream=sys.stdout)
    report_console = console if output else err_console  # stdout may be carrying the rows
    options = dict(arch=arch, weights=runner_weights(engine, arch, weights), device=device,
                   check_sidecar=not no_sidecar_check, allow_host_code=allow_host_code)  # fmt: skip
    with open_runner(engine, backend, **options) as runner:
        warn_if_random(runner.metadata is not None and runner.metadata.random_init, engine)
        batch_size = resolve_batch_size(runner, batch_size, images=len(inputs) or None)  # sharded: listed later
        classes = len(runner.metadata.labels) if runner.metadata else topk
        if topk > classes:
            err_console.print(f"note: --topk {topk} is more than the model's {classes} classes; "
                              f"each row lists all {classes}", highlight=False)  # fmt: skip
        bar, progress = image_progress("infer", err_console)
        with bar:
            if ray is None:
                summary = run_infer(runner, inputs, writer, batch_size=batch_size, topk=topk, workers=workers,
                                    resume=resume, artifact=engine, progress=progress)  # fmt: skip
            else:
                from resnet_deploy.infer import ray_pipeline

                common = dict(address=None if ray == "local" else ray, batch_size=batch_size, topk=topk,
                              actors=actors, resume=resume, shard_size=shard_size, progress=progress)  # fmt: skip
                job = (engine, {"backend": backend, **options}, runner.metadata)
                if sharded:
                    summary = ray_pipeline.run_infer_ray_sharded(*job, paths, output, **common)
                else:
                    summary = ray_pipeline.run_infer_ray(*job, inputs, writer, **common)
    data = summary.to_dict()
    if json:
        report_console.print_json(data=data)
    else:
        lat = data["batch_latency_ms"]
        report_console.print(
            f"{data['images']:,} images: {data['ok']:,} ok, {data['errors']:,} errors"
            + (f" ({data['resumed_from']:,} done before resuming)" if data["resumed_from"] else "")
            + (f" ({data['duplicates']:,} duplicate paths classified once)" if data["duplicates"] else "")
            + f"; {data['wall_s']:.1f}s wall, {data['images_per_s']:,.1f} img/s on {data['backend']}; "
            f"batch latency p50 {lat['p50']:.1f} / p90 {lat['p90']:.1f} / p99 {lat['p99']:.1f} ms; "
            f"backend compute {data['compute_share']:.0%} of wall time",
            highlight=False,
        )
    if strict and summary.errors:
        raise typer.Exit(1)


def _check_infer_target(paths: list[str], output: str | None, ray: str | None, shard_size: int | None) -> bool:
    """Whether the job writes shards; refuses combinations that need Ray or a folder."""
    from resnet_deploy.infer.listing import has_uri
    from resnet_deploy.infer.shards import is_sharded_output
    from resnet_deploy.infer.storage import is_uri

    sharded = output is not None and is_sharded_output(output)
    if sharded and ray is None:
        raise ArtifactError(f"--output {output} is a folder of shards written by Ray workers: add --ray local "
                            "(this machine) or --ray ADDRESS, or give a .jsonl/.csv file")  # fmt: skip
    if output is not None and not sharded and is_uri(output):
        raise ArtifactError(f"--output {output}: a single results file is written locally; for object storage "
                            "give a prefix ending in / (shards, with --ray)")  # fmt: skip
    if has_uri(paths) and ray is None:
        raise ArtifactError("object-storage inputs are read by Ray workers: add --ray local or --ray ADDRESS")
    if shard_size is not None and (not sharded or shard_size < 1):
        raise ArtifactError("--shard-size needs a sharded --output DIR/ and must be at least 1")
    return sharded


def _csv_list(text: str, kind: type = str) -> list:
    try:
        return [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ArtifactError(f"{text!r} is not a comma-separated list of {kind.__name__}") from None


def _figure(value: float) -> str:
    """Three significant digits, whole numbers from 100 up: `0.812`, `12.0`, `1,235`."""
    return f"{value:,.0f}" if abs(value) >= 99.95 else f"{value:#.3g}"


@app.command(rich_help_panel="Inference and benchmarks")
def bench(
    arch: Annotated[str, typer.Option("--arch", help="Registered architecture to benchmark.")] = "resnet50",
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="Artifacts to benchmark instead (.plan, .onnx); repeatable.")
    ] = None,
    backends: Annotated[
        str, typer.Option("--backends", help="Comma list of torch, torch-compile, onnxruntime, tensorrt.")
    ] = "torch,onnxruntime",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    precision: Annotated[
        str, typer.Option("--precision", help="Comma list of fp32 (strict), tf32 (GPU tensor cores), fp16, int8.")
    ] = "fp32",
    batch_sizes: Annotated[str, typer.Option("--batch-sizes", help="Comma list of batch sizes.")] = "1,8,32,128",
    warmup_s: Annotated[float, typer.Option("--warmup-s", help="Warm-up time per measurement.")] = 2.0,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Measured time per measurement.")] = 5.0,
    cuda_graphs: Annotated[
        bool, typer.Option("--cuda-graphs", help="Every torch row on CUDA replays a captured CUDA graph.")
    ] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the results as CSV.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG: throughput and latency.")] = None,
    json: JsonOpt = False,
) -> None:
    """Latency percentiles, throughput and FLOP/s per backend x precision x batch size."""
    from resnet_deploy.bench.outputs import require_pyplot, write_csv, write_plot
    from resnet_deploy.bench.sweep import run_bench

    # The sweep takes minutes: refuse an output it could not write before it starts.
    check_output(csv_file, CSV_SUFFIXES, option="--csv")
    check_output(plot, PNG_SUFFIXES, option="--plot")
    if plot:
        require_pyplot()

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
        cuda_graphs=cuda_graphs,
        on_result=show,
    )
    if csv_file:
        write_csv(report, csv_file)
    if plot:
        write_plot(report, plot)
    written = [f"wrote {path}" for path in (csv_file, plot) if path]
    if json:
        print_json(report.to_dict())
        for line in written:  # stdout carries the JSON
            err_console.print(line, highlight=False, soft_wrap=True)
        return
    env = report.environment
    gpu = env["gpu"] or "none"
    versions = f"torch {env['torch']}, onnxruntime {env['onnxruntime']}, tensorrt {env['tensorrt'] or '-'}"
    console.print(
        f"CPU {env['cpu']} ({env['cpu_cores']} cores), GPU {gpu}; {versions}", highlight=False, soft_wrap=True
    )
    table = Table(title=f"bench {', '.join(engine) if engine else arch} (latency per batch in ms)")
    on_gpu = any("gpu_compute_ms" in row for row in report.results)
    # Mean latency is in --json/--csv (img/s follows from it): the table stays within 80 columns.
    columns = ("backend", "prec", "batch", "p50", "p90", "p95", "p99", "img/s", "GFLOP/s")
    columns += ("graph", "GPU ms", "% peak") if on_gpu else ()
    for column in columns:
        table.add_column(column, justify="left" if column in ("backend", "prec") else "right")
    for row in report.results:
        if row["status"] == "ok":
            lat = row["latency_ms"]
            table.add_row(
                row["backend"],
                row["precision"],
                str(row["batch"]),
                *(_figure(lat[k]) for k in ("p50", "p90", "p95", "p99")),
                _figure(row["throughput"]),
                _figure(row["gflops"]),
                *(
                    (
                        "yes" if row.get("cuda_graph") else "no",
                        _figure(row["gpu_compute_ms"]) if "gpu_compute_ms" in row else "-",
                        f"{row['peak_fraction']:.1%}" if "peak_fraction" in row else "-",
                    )
                    if on_gpu
                    else ()
                ),
            )
    print_table(table, keep={"backend", "prec"})
    for row in report.results:
        if row["status"] != "ok":
            where = f"{row['backend']} {row['precision']}" + (f" batch {row['batch']}" if row["batch"] else "")
            console.print(f"{row['status']}: {where}: {row['reason']}", highlight=False)
    for line in written:
        console.print(line, highlight=False, soft_wrap=True)
