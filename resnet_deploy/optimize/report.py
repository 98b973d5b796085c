"""The search's report: JSON for scripts, a Markdown table for people, and accuracy against speed as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from resnet_deploy.atomic import atomic_write_text
from resnet_deploy.optimize.candidates import PRECISION_ORDER, Candidate


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _speed(candidate: Candidate, fp32: Candidate) -> str:
    if not candidate.images_per_s:
        return "unmeasured"
    ratio = f" ({candidate.images_per_s / fp32.images_per_s:.2f}x float32)" if fp32.images_per_s else ""
    return f"{candidate.images_per_s:,.0f}{ratio}"


def markdown(data: dict, candidates: list[Candidate], chosen: Candidate, plot: Path | None) -> str:
    fp32 = candidates[0]
    lines = [
        f"# optimize: {Path(data['model']).name} for {data['target']}, budget {data['budget']} top-1 points",
        "",
        f"Chosen: **{chosen.name}**, written to `{data['artifact']}`: top-1 {chosen.top1:.2%} "
        f"({-chosen.loss_points + 0.0:+.2f} points against float32), img/s {_speed(chosen, fp32)}.",
        "",
        f"- Accuracy: {data['eval']['images']:,} images of `{data['eval']['folder']}` "
        f"({data['eval']['unreadable']} unreadable, skipped); {data['accuracy_backend']}.",
        f"- Speed: {data['speed']}.",
        f"- Choice: {data['choice_rule']}.",
        f"- Calibration: {data['calibration']['images']} images of `{data['calibration']['folder']}`.",
        "",
        "| candidate | precision | calibration | layers kept in float | top-1 | vs float32 | img/s | within budget |",
        "|---|---|---|---|---:|---:|---:|:---:|",
    ]
    for c in candidates:
        mark = " (chosen)" if c is chosen else ""
        kept = ", ".join(c.float_layers) if c.float_layers else "-"
        lines.append(
            f"| {c.name}{mark} | {c.precision} | {c.method or '-'} | {kept} | {c.top1:.2%} | "
            f"{-c.loss_points + 0.0:+.2f} | {_speed(c, fp32)} | {'yes' if c.within_budget else 'no'} |"
        )
    sens = data["sensitivity"]
    lines += [
        "",
        f"## Layer sensitivity ({sens['images']:,} images, {sens['method']} INT8 elsewhere)",
        "",
        "Each layer alone kept in float: the top-1 change and the drop in logit error against float32 "
        "(mean squared difference relative to the float32 logits' mean square), most sensitive first.",
        "",
        "| rank | module | ONNX node | top-1 change | logit error drop |",
        "|---:|---|---|---:|---:|",
    ]
    for rank, layer in enumerate(sens["layers"], 1):
        lines.append(
            f"| {rank} | `{layer['module']}` | `{layer['node']}` | {layer['top1_change']:+.2f} | "
            f"{layer['error_reduction']:.2e} |"
        )
    if plot is not None:
        lines += ["", f"![top-1 against throughput]({plot.name})"]
    return "\n".join(lines) + "\n"


def plot_png(path: Path, candidates: list[Candidate], chosen: Candidate, budget: float, title: str) -> bool:
    """Top-1 against img/s (or precision order where unmeasured) with the budget line; False
    without matplotlib (the `plot` extra)."""
    try:
        from resnet_deploy.plotting import pyplot, save_png

        plt = pyplot()
    except ImportError:
        return False
    fp32 = candidates[0]
    measured = all(c.images_per_s for c in candidates)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for i, c in enumerate(candidates):
        x = c.images_per_s if measured else _precision_x(c)
        style = {"marker": "*", "s": 180, "color": "tab:red"} if c is chosen else {"s": 36, "color": "tab:blue"}
        axes.scatter(x, 100 * c.top1, zorder=3, **style)
        offset = (4, 4) if i % 2 else (4, -10)  # alternate, so neighbours' labels don't overlap
        axes.annotate(c.name, (x, 100 * c.top1), fontsize=7, xytext=offset, textcoords="offset points")
    line = 100 * fp32.top1 - budget
    axes.axhline(line, color="tab:gray", linestyle="--", linewidth=1)
    axes.annotate(f"budget: float32 - {budget} points", (0.01, line), xycoords=("axes fraction", "data"),
                  fontsize=7, color="tab:gray", xytext=(0, -10), textcoords="offset points")  # fmt: skip
    if measured:
        axes.set_xlabel("images/s (higher is faster)")
    else:
        axes.set_xlabel("precision (speed unmeasured here)")
        axes.set_xticks(range(len(PRECISION_ORDER)), PRECISION_ORDER)
    axes.set_ylabel("top-1 (%)")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    save_png(figure, path, dpi=100)
    return True


def _precision_x(candidate: Candidate) -> float:
    # int8 candidates spread a little by how many layers they keep in float
    return PRECISION_ORDER.index(candidate.precision) + 0.04 * len(candidate.float_layers)
