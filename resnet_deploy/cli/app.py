"""`resnet-deploy`: the command line. Each command parses options, calls one library
function and renders its result. Heavy libraries are imported inside the commands."""

from __future__ import annotations

from typing import Annotated

import typer

from resnet_deploy import __version__
from resnet_deploy.cli.common import app

# Importing a module registers its commands; this order is the order of `--help`.
# isort: off
from resnet_deploy.cli import zoo, onnx_commands, engine_commands, run_commands, train_commands  # noqa: F401, E402
from resnet_deploy.cli import serve_commands  # noqa: F401, E402
from resnet_deploy.cli import optimize_commands  # noqa: F401, E402
# isort: on


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


def run() -> None:
    app()


if __name__ == "__main__":
    run()
