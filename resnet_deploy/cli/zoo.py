"""Commands about the model zoo and this machine: models, flops, doctor."""

from __future__ import annotations

from rich.table import Table

from resnet_deploy.cli.common import (
    ActivationOpt,
    ArchOpt,
    InputSizeOpt,
    JsonOpt,
    NumClassesOpt,
    ShortcutOpt,
    VariantOpt,
    app,
    console,
    print_json,
    print_table,
)


def _gmacs(macs: float | None) -> str:
    return "-" if macs is None else f"{macs / 1e9:.3f}"


@app.command(rich_help_panel="Models and machine")
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
                "default_weights": card.default_weights,
                "weights": [weight_set.to_dict() for weight_set in card.weights],
            }
        )
    if json:
        print_json(rows)
        return
    # Fits 80 columns: family, classes and input size are in --json (and `flops`).
    table = Table(title="Registered ResNets (GMACs at 224x224 for ImageNet nets, 32x32 for CIFAR nets)")
    columns = ("name", "params", "GMACs", "paper err %", "weights", "top-1 %")
    for column in columns:
        table.add_column(column, justify="left" if column in ("name", "weights") else "right")
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['params']:,}",
            _gmacs(row["macs"]),
            "-" if row["paper_error"] is None else f"{row['paper_error']:.2f}",
            "\n".join(weight_set["name"] for weight_set in row["weights"]) or "-",
            "\n".join(f"{weight_set['top1']:.2f}" for weight_set in row["weights"]) or "-",
        )
    # A weight set's top-1 sits on the same line as its name: neither column may fold.
    print_table(table, keep={"name", "weights", "top-1 %"})
    console.print(
        "weights: published sets, the default first (--weights NAME); top-1: as published, on ImageNet-1k val or "
        "the lossless CIFAR-10 test set (`embedded`: the shared CIFAR-10 test JPEGs). `models --json` has the "
        "URLs, hashes, licenses and sources.",
        highlight=False,
    )


@app.command(rich_help_panel="Models and machine")
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
    print_table(table)


@app.command(rich_help_panel="Models and machine")
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
    print_table(table, keep={"component"})
    for line in report["verdict"]:
        console.print(f"- {line}", highlight=False)
