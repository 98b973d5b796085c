"""The GPU acceptance run, on the CPU: it reports every GPU step as skipped, with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "gpu_acceptance.py"
STEPS = ["pytest -m gpu", "bench resnet50", "infer imagenet-sample"]


def _run(out: Path, *extra: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), *extra], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "gpu-acceptance.log").is_file()
    return json.loads((out / "gpu-acceptance.json").read_text())


def test_dry_run_skips_every_step_with_its_reason(tmp_path: Path) -> None:
    report = _run(tmp_path, "--dry-run")
    assert report["dry_run"] and report["passed"]
    assert [step["name"] for step in report["steps"]] == STEPS
    assert all(step["status"] == "skipped" and step["reason"] for step in report["steps"])
    assert "tensorrt_note" in report["machine"] and report["machine"]["python"] == sys.version.split()[0]


def test_without_a_gpu_each_gpu_step_says_so(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: the real run is `make gpu-check`")
    report = _run(tmp_path)
    assert report["machine"]["gpu"] is None and report["machine"]["torch"] == torch.__version__
    reasons = {step["name"]: step["reason"] for step in report["steps"]}
    assert reasons["pytest -m gpu"] == reasons["bench resnet50"] == "no CUDA GPU: this step needs one"
    tensorrt = report["machine"]["tensorrt"]
    assert set(tensorrt) == {"tensorrt", "tensorrt-rtx"} and tensorrt["tensorrt"] is None
