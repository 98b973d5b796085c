"""Headless matplotlib for the PNGs we write (benchmark plots, training curves)."""

from __future__ import annotations

from pathlib import Path

from resnet_deploy.atomic import atomic_write


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed); ImportError if not installed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path: Path, dpi: int) -> None:
    """Write the figure atomically and free it."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi))
    pyplot().close(figure)
