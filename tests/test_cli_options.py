"""Option values: every check we make is one `error: --option ...` line with exit 1; only Typer's own
parsing errors (not a number, unknown option) are its boxed usage error with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.exporting.export import export_onnx
from tests.cli_checks import one_line_error

runner = CliRunner()


@pytest.fixture(scope="module")
def r20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("opt") / "r20.onnx").path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "{onnx}", "--weights", "{weights}", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["infer", "{image}", "--engine", "{onnx}", "--device", "tpu"], "--device must be cpu or cuda, got 'tpu'"),
        (["infer", "{image}", "--engine", "{onnx}", "--backend", "tf"], "--backend 'tf' is not one of torch, "),
        (["flops", "--arch", "resnet20", "--shortcut", "Z"], "--shortcut 'Z' is not one of A, B, C"),
        (["flops", "--arch", "resnet20", "--variant", "x"], "--variant 'x' is not one of identity, "),
        (["serve", "{onnx}", "--model-name", "a/b"], "--model-name 'a/b': use letters, digits"),
        (["serve", "{onnx}", "--max-batch", "0"], "--max-batch must be at least 1, got 0"),
    ],
)
def test_our_checks_are_one_error_line(
    args: list[str], message: str, r20_onnx: Path, resnet20_weights: Path, cifar_test: Path
) -> None:
    image = cifar_test / "ship" / "0001.jpg"
    result = runner.invoke(app, [a.format(onnx=r20_onnx, weights=resnet20_weights, image=image) for a in args])
    one_line_error(result, f"error: {message}")


def test_typer_parsing_errors_stay_usage_errors() -> None:
    result = runner.invoke(app, ["flops", "--arch", "resnet20", "--input-size", "large"])
    assert result.exit_code == 2 and "Invalid value for '--input-size'" in result.output
    assert not any(line.startswith("error:") for line in result.output.splitlines())
