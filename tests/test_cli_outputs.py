"""Where commands write: unwritable locations and wrong suffixes are refused in one line, before any work."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.atomic import atomic_write_text
from resnet_deploy.cli.app import app
from resnet_deploy.errors import OutputError
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.outputs import check_output, check_writable
from tests.cli_checks import one_line_error

runner = CliRunner()


@pytest.fixture(scope="module")
def r20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("out") / "r20.onnx").path


@pytest.fixture
def file_parent(tmp_path: Path) -> Path:
    """A folder path whose parent is a file."""
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "sub"


@pytest.fixture
def immutable(tmp_path: Path):
    """A folder even root cannot write into (`chattr +i`), where the file system allows it."""
    folder = tmp_path / "immutable"
    folder.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("chattr +i is not possible here (no chattr, no CAP_LINUX_IMMUTABLE, or the file system)")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_parent_that_is_a_file(file_parent: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write .*/a-file/sub/x.onnx: .*/a-file is a file, not a folder"):
        check_writable(file_parent / "x.onnx")
    with pytest.raises(OutputError, match="a-file is a file, not a folder; choose another --workdir"):
        check_writable(file_parent, "--workdir", folder=True)
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        check_writable(file_parent.parent, folder=True)


def test_kernel_file_systems_and_immutable_folders(immutable: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write /sys/resnet-deploy/x.onnx: .*\(/sys\)"):
        check_writable("/sys/resnet-deploy/x.onnx")
    with pytest.raises(OutputError, match="/proc is a kernel file system"):
        check_writable("/proc/x.onnx")
    with pytest.raises(OutputError, match=rf"Operation not permitted \({immutable}\); choose another --output"):
        check_writable(immutable / "new" / "x.plan")


def test_an_immutable_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    target.write_text("{}\n")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(target)]).returncode != 0:
        pytest.skip("chattr +i is not possible here")
    try:
        with pytest.raises(OutputError, match=rf"Operation not permitted \({target}\)"):
            check_writable(target)
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)


def test_a_writable_location_passes_and_nothing_is_created(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper" / "x.onnx")
    check_writable(tmp_path / "run", folder=True)
    check_writable("s3://bucket/results/")  # remote: its own client checks it
    check_output(None, (".onnx",), default_folder=tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_turns_os_errors_into_one_line(file_parent: Path) -> None:
    with pytest.raises(OutputError, match="cannot write .*/a-file/sub/x.txt"):
        atomic_write_text(file_parent / "x.txt", "data")
    with pytest.raises(OutputError, match="cannot write /sys/x.txt: Permission denied"):
        atomic_write_text("/sys/x.txt", "data")


def calibrate_args(onnx: Path, images: Path) -> list[str]:
    return ["calibrate", str(onnx), "--images", str(images), "-o"]


def optimize_args(onnx: Path, images: Path) -> list[str]:
    calib_eval = ["--calib", str(images), "--eval", str(images)]
    return ["optimize", str(onnx), *calib_eval, "--budget", "1", "--target", "onnxruntime-cpu"]


def _commands(onnx: Path, weights: Path, images: Path, bad: Path, good: Path) -> dict[str, list[str]]:
    """Each writing command with one unwritable output; every other input is real."""
    fast_bench = ["bench", "--arch", "resnet20", "--batch-sizes", "1", "--warmup-s", "0", "--duration-s", "0.05"]
    return {
        "infer -o": ["infer", str(images / "ship" / "0001.jpg"), "--engine", str(onnx), "-o", str(bad / "r.jsonl")],
        "export -o": ["export", "--arch", "resnet20", "--weights", str(weights), "-o", str(bad / "x.onnx")],
        "calibrate -o": [*calibrate_args(onnx, images), str(bad / "q.onnx")],
        "calibrate --cache-dir": [*calibrate_args(onnx, images), str(good / "q.onnx"), "--cache-dir", str(bad)],
        "fp16 -o": ["fp16", str(onnx), "-o", str(bad / "h.onnx")],
        "build -o": ["build", str(onnx), "-o", str(bad / "m.plan")],
        "triton-repo -o": ["triton-repo", str(onnx), "-o", str(bad)],
        "train -o": ["train", "--arch", "resnet20", "--data", str(images), "--epochs", "1", "-o", str(bad)],
        "bench --csv": [*fast_bench, "--csv", str(bad / "b.csv")],
        "bench --plot": [*fast_bench, "--plot", str(bad / "b.png")],
        "demo --workdir": ["demo", str(images), "--workdir", str(bad)],
        "optimize --output-dir": [*optimize_args(onnx, images), "--output-dir", str(bad)],
    }


COMMANDS = list(_commands(*(Path("x"),) * 5))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_writing_command_refuses_an_unwritable_output_before_work(
    command: str, r20_onnx: Path, resnet20_weights: Path, cifar_test: Path, file_parent: Path, tmp_path: Path
) -> None:
    args = _commands(r20_onnx, resnet20_weights, cifar_test, file_parent, tmp_path / "good")[command]
    result = runner.invoke(app, args)
    option = "--cache-dir" if "cache-dir" in command else command.split()[-1]
    option = "--output" if option == "-o" else option
    one_line_error(result, "cannot write ")
    assert "a-file is a file, not a folder" in result.output and f"choose another {option}" in result.output
    assert "measured" not in result.output  # bench: no sweep ran
    assert not (tmp_path / "good").exists()  # calibrate wrote nothing else either


def test_infer_refuses_sys_before_reading_an_image(r20_onnx: Path, cifar_test: Path) -> None:
    image = cifar_test / "ship" / "0001.jpg"
    result = runner.invoke(app, ["infer", str(image), "--engine", str(r20_onnx), "-o", "/sys/resnet-deploy/r.csv"])
    one_line_error(result, "cannot write /sys/resnet-deploy/r.csv: Permission denied (/sys)")


def test_default_output_folder_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resnet20_weights) -> None:
    monkeypatch.chdir(tmp_path)
    Path("export").write_text("a file where the default folder would be")
    result = runner.invoke(app, ["export", "--arch", "resnet20", "--weights", str(resnet20_weights)])
    one_line_error(result, "cannot write export: it is a file, not a folder; choose another --output")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--arch", "resnet20", "-o", "x.txt"], "--output x.txt: use a .onnx file"),
        (["fp16", "{onnx}", "-o", "x.txt"], "--output x.txt: use a .onnx file"),
        (["calibrate", "{onnx}", "--images", ".", "-o", "x.onnx.bak"], "--output x.onnx.bak: use a .onnx file"),
        (["build", "{onnx}", "-o", "x.txt"], "--output x.txt: use a .plan or .engine or .trt file"),
        (["bench", "--arch", "resnet20", "--plot", "b.txt"], "--plot b.txt: use a .png file"),
        (["bench", "--arch", "resnet20", "--csv", "b.json"], "--csv b.json: use a .csv file"),
        (["train", "--arch", "resnet20", "--data", ".", "-o", "run.pt"], "--output run.pt looks like a checkpoint"),
    ],
)
def test_wrong_output_suffixes_are_refused(args: list[str], message: str, tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"  # never read: the suffix is refused first
    result = runner.invoke(app, [arg.format(onnx=onnx) for arg in args])
    one_line_error(result, message)
    assert not any(tmp_path.iterdir())
