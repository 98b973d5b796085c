"""The progress bar of a job over many images (infer, eval): done of total, images/s, elapsed."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from resnet_deploy.data.loader import ProgressCallback


class ImageRateColumn(ProgressColumn):
    """Images per second, rounded; a dash until rich has measured a rate (its `task.speed` starts as None)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            text = "- img/s"
        else:
            text = f"{speed:,.1f} img/s" if speed < 10 else f"{speed:,.0f} img/s"
        return Text(text, style="progress.data.speed")


def image_progress(label: str, console: Console) -> tuple[Progress, ProgressCallback]:
    """A transient progress bar and the library callback that drives it."""
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), ImageRateColumn(), TimeElapsedColumn(),
                   console=console, transient=True)  # fmt: skip
    task = bar.add_task(label, total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)
