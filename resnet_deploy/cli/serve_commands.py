"""Serving: a Triton model repository, and a Triton server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resnet_deploy.cli.common import (
    JsonOpt,
    WeightsOpt,
    app,
    console,
    err_console,
    print_json,
    runner_weights,
    warn_if_random,
)
from resnet_deploy.errors import ArtifactError
from resnet_deploy.outputs import check_writable


@app.command(name="triton-repo", rich_help_panel="Serving")
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
    check_writable(output, folder=True)
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
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@app.command(rich_help_panel="Serving")
def serve(
    artifact: Annotated[str, typer.Argument(help="An .onnx, .plan, checkpoint or arch name to serve.")],
    model_name: Annotated[str, typer.Option("--model-name", help="The name clients ask for.")] = "resnet",
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 exposes the server to the network.")
    ] = "127.0.0.1",
    http_port: Annotated[int, typer.Option("--http-port")] = 8000,
    grpc_port: Annotated[int, typer.Option("--grpc-port")] = 8001,
    metrics_port: Annotated[int, typer.Option("--metrics-port")] = 8002,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Triton's dynamic batching limit.")] = 64,
    weights: WeightsOpt = None,
) -> None:
    """Serve a model with a real Triton Inference Server (PyTriton) until interrupted."""
    import signal
    import threading

    from resnet_deploy.serve.pytriton_server import ALL_INTERFACES, check_serving
    from resnet_deploy.serve.pytriton_server import serve as serve_model

    # Before a weight set is downloaded: a busy port or a bad name fails in a second, not after it.
    check_serving(model_name, max_batch, host, http_port, grpc_port, metrics_port)
    weights_file = runner_weights(artifact, None, weights)
    warn_if_random(weights == "random", artifact)
    if host in ALL_INTERFACES:
        err_console.print(
            f"[bold yellow]WARNING: --host {host}: listening on every network interface; anyone who can reach "
            "this machine can use the model (Triton has no authentication for inference).[/]",
            highlight=False,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve_model(artifact, model_name=model_name, host=host, http_port=http_port, grpc_port=grpc_port,
                     metrics_port=metrics_port, max_batch=max_batch, weights=weights_file) as url:  # fmt: skip
        err_console.print(
            f"serving {model_name} on {host}: HTTP {url} (KServe v2: {url}/v2/models/{model_name}/infer), "
            f"gRPC port {grpc_port}, metrics port {metrics_port}",
            highlight=False,
            soft_wrap=True,
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
