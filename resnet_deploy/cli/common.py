"""What every command shares: the Typer app with friendly errors, consoles, shared options."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from resnet_deploy.errors import ResnetDeployError, WeightsError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # messages and notes stay one line each, whatever the width


def _friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """User errors become one `error: ...` line and exit code 1; bugs still raise."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ResnetDeployError as exc:
            # The message is data: no rich markup, so "[trt]" or a path with brackets survives.
            err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None

    return wrapper


class App(typer.Typer):
    """A Typer app whose commands all report `ResnetDeployError` as a one-line message."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)
        return lambda func: register(_friendly_errors(func))


app = App(
    name="resnet-deploy",
    help="ResNets (He et al. 2015, 2016) from PyTorch to ONNX and TensorRT, verified on real images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


_FOLDED_MIN_WIDTH = 4  # the narrowest a column gets when its words must fold


def _share(room: int, needs: list[int]) -> list[int]:
    """Split `room` among columns so that the smallest needs are met in full first."""
    given = [0] * len(needs)
    order = sorted(range(len(needs)), key=needs.__getitem__)
    for done, index in enumerate(order):
        given[index] = min(needs[index], max(room, 0) // (len(order) - done))
        room -= given[index]
    return given


def print_table(table: Table, *, keep: Collection[str] = (), out: Console | None = None) -> None:
    """Print a table without cutting any cell, in a pipe (80 columns) or a narrow terminal.

    The `keep` columns (names, hashes) always get their full width. The others first get their
    longest word (so text wraps between words and numbers stay whole), then what is left; only
    when even that does not fit do they fold, down to 4 characters. A table that cannot fit even
    so is printed whole and unfolded, wider than the terminal (which wraps its lines), never cut.
    """
    out = out or console
    unlimited = out.options.update_width(10_000)
    kept = [column.header in keep for column in table.columns]
    widest, narrowest = [], []  # narrowest: the longest word (whole cell for kept columns)
    for column, whole in zip(table.columns, kept, strict=True):
        sizes = [Measurement.get(out, unlimited, cell) for cell in (column.header, *column.cells)]
        widest.append(max(size.maximum for size in sizes))
        narrowest.append(widest[-1] if whole else max(size.minimum for size in sizes))
        column.no_wrap, column.overflow, column.width = whole, "fold", 0
    room = out.width - out.measure(table, options=unlimited).maximum  # the width less borders and padding
    widths = [low if whole else min(low, _FOLDED_MIN_WIDTH) for low, whole in zip(narrowest, kept, strict=True)]
    if sum(widths) > room:  # it cannot fit: print it wider than the terminal, whole and unfolded
        widths = narrowest
    for target in (narrowest, widest):
        needs = [max(goal - width, 0) for goal, width in zip(target, widths, strict=True)]
        widths = [width + extra for width, extra in zip(widths, _share(room - sum(widths), needs), strict=True)]
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    if sum(widths) > room:
        table.width = out.measure(table, options=unlimited).maximum
    out.print(table, crop=False)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, default=str))


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
ArchOpt = Annotated[str, typer.Option("--arch", help="Registered architecture (see `resnet-deploy models`).")]
OptionalArchOpt = Annotated[
    str | None, typer.Option("--arch", help="Registered architecture (see `resnet-deploy models`).")
]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="FILE (a checkpoint, loaded with weights_only=True), a weight SET of the architecture "
        "(see `resnet-deploy models`), or `random`. Default: the architecture's best published set, "
        "downloaded once into torch's hub cache and verified by its hash.",
    ),
]
NumClassesOpt = Annotated[int | None, typer.Option("--num-classes", help="Override the card's number of classes.")]
InputSizeOpt = Annotated[int | None, typer.Option("--input-size", help="Override the card's input size (pixels).")]


# Options shared by several commands.
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


class DownloadBar:
    """A progress bar for weight downloads, shown only once a download starts (a cache hit is silent)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.downloaded: list[str] = []

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            columns = (TextColumn("downloading {task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn())  # fmt: skip
            self.bar = Progress(*columns, console=err_console, transient=True)
            self.bar.start()
        if name not in self.downloaded:
            self.downloaded.append(name)
            self.task = self.bar.add_task(name, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __enter__(self) -> DownloadBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            from resnet_deploy.models.pretrained import cache_dir

            for name in self.downloaded if exc[0] is None else []:
                err_console.print(f"downloaded {name} into {cache_dir()} (sha256 verified)", highlight=False)


def resolve_weights_option(arch: str, value: str | None) -> Path | None:
    """`--weights` for `arch`: its default set when omitted, a set, `random` (None) or a file."""
    from resnet_deploy.models.pretrained import resolve_weights

    with DownloadBar() as progress:
        return resolve_weights(arch, value, progress=progress)


def runner_weights(artifact: str, arch: str | None, value: str | None) -> Path | None:
    """`--weights` of a command that opens ARTIFACT: it applies when ARTIFACT names an architecture."""
    from resnet_deploy.models.registry import list_models

    if artifact in {card.name for card in list_models()} and not Path(artifact).exists():
        return resolve_weights_option(arch or artifact, value)
    if value is not None:
        raise WeightsError(f"--weights applies when the model is an architecture name; {artifact} has its own weights")
    return None


def warn_if_random(random_init: bool, what: str) -> None:
    """Say loudly that a model with random weights is being used: its predictions mean nothing."""
    if random_init:
        message = f"WARNING: {what} has RANDOM weights (seeded); its predictions are meaningless."
        err_console.print(Text(message, style="bold yellow"), soft_wrap=True)
