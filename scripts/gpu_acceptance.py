#!/usr/bin/env python3
"""The GPU acceptance run: every GPU-only check of resnet-deploy, in one command, in minutes.

    python scripts/gpu_acceptance.py OUT_DIR [--wheels scripts/wheels] [--dry-run]

Run from the repository root on a machine with one NVIDIA GPU and PyTorch with CUDA; no network.
`--wheels DIR` first installs resnet-deploy and what PyTorch does not bring from DIR with
`pip install --no-index` (see the README, "GPU acceptance run"). Steps, each with a time limit,
about 6 minutes in all on an H100/H200:

1. `pytest -m gpu`: the engine runner, torch on CUDA and the GPU bench, on real images.
2. a bench sweep of resnet50: torch strict fp32 / TF32 / fp16 with CUDA graphs, onnxruntime's CUDA
   provider where installed, and any TensorRT runtime present, at batch 1, 32 and 256.
3. `infer` of ../shared/data/imagenet-sample on CUDA (random weights: there is no network).

It writes OUT_DIR/gpu-acceptance.json (the machine, each step's status, reason and figures) and
OUT_DIR/gpu-acceptance.log (everything the steps printed). A step that cannot run here (no GPU,
no TensorRT, `--dry-run`) is "skipped" with its reason; the exit code is 1 if any step failed.
Only the standard library is imported at the top, so the script runs before the install step.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGENET_SAMPLE = REPO.parent / "shared" / "data" / "imagenet-sample" / "val"
TRT_PACKAGES = ("tensorrt", "tensorrt-rtx")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _machine() -> dict:
    """What this machine has, found without importing torch in this process (it may be absent)."""
    probe = (
        "import json, torch; ok = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, "
        "'cuda': torch.version.cuda, 'gpu': torch.cuda.get_device_name(0) if ok else None, 'compute_capability': "
        "'%d.%d' % torch.cuda.get_device_capability(0) if ok else None}))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    machine = json.loads(found.stdout) if found.returncode == 0 else {"torch": None, "gpu": None}
    machine["python"] = sys.version.split()[0]
    machine["tensorrt"] = {dist: _version(dist) for dist in TRT_PACKAGES}
    machine["onnxruntime"] = {dist: _version(dist) for dist in ("onnxruntime", "onnxruntime-gpu")}
    return machine


class Run:
    """The steps' results and the shared log."""

    def __init__(self, out: Path, dry_run: bool) -> None:
        self.out, self.dry_run = out, dry_run
        self.log = (out / "gpu-acceptance.log").open("w", encoding="utf-8")
        self.steps: list[dict] = []
        self.machine: dict = {}

    def skip(self, name: str, reason: str) -> None:
        self.steps.append({"name": name, "status": "skipped", "reason": reason})
        self.log.write(f"== {name}: skipped: {reason}\n")

    def command(self, name: str, args: list[str], timeout_s: int, *, gpu: bool = True) -> str | None:
        """Run one step's command; its stdout, or None if it was skipped or failed."""
        if self.dry_run:
            self.skip(name, "dry run: nothing was run")
            return None
        if gpu and not self.gpu:
            self.skip(name, "no CUDA GPU: this step needs one")
            return None
        self.log.write(f"== {name}: {' '.join(args)}\n")
        self.log.flush()
        start = time.perf_counter()
        try:
            done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.log.write(f"{exc.stdout or ''}{exc.stderr or ''}\n")
            self.steps.append({"name": name, "status": "failed", "reason": f"timed out after {timeout_s} s",
                               "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
            return None
        self.log.write(done.stdout + done.stderr + "\n")
        step = {"name": name, "seconds": round(time.perf_counter() - start, 1), "exit_code": done.returncode}
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            step.update(status="failed", reason=lines[-1][:300] if lines else f"exit code {done.returncode}")
        else:
            step["status"] = "ok"
        self.steps.append(step)
        return done.stdout if done.returncode == 0 else None

    @property
    def gpu(self) -> bool:
        return bool(self.machine.get("gpu"))


def _pytest_counts(text: str) -> dict:
    return {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|skipped|error)", text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for gpu-acceptance.json and gpu-acceptance.log")
    parser.add_argument("--wheels", type=Path, help="install resnet-deploy from this folder first (pip --no-index)")
    parser.add_argument("--dry-run", action="store_true", help="run nothing; report every GPU step as skipped")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    run = Run(args.out, args.dry_run)
    started = time.perf_counter()
    python = sys.executable

    if args.wheels:
        run.command("install", [python, "-m", "pip", "install", "--no-index", "--find-links", str(args.wheels),
                                "resnet-deploy"], 300, gpu=False)  # fmt: skip
    run.machine = _machine()
    trt_present = [dist for dist, version in run.machine["tensorrt"].items() if version]
    run.machine["tensorrt_note"] = (
        f"TensorRT runtimes present: {', '.join(trt_present)}" if trt_present
        else "no TensorRT runtime is installed: the TensorRT steps and rows are skipped"
    )  # fmt: skip

    tests = run.command("pytest -m gpu", [python, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                          "tests"], 240)  # fmt: skip
    if tests is not None:
        run.steps[-1]["tests"] = _pytest_counts(tests)

    backends = ["torch", "onnxruntime", *(["tensorrt"] if trt_present else [])]
    sweep = [
        "--arch",
        "resnet50",
        "--device",
        "cuda",
        "--backends",
        ",".join(backends),
        "--cuda-graphs",
        "--precision",
        "fp32,tf32,fp16",
        "--batch-sizes",
        "1,32,256",
        "--warmup-s",
        "0.5",
        "--duration-s",
        "1.5",
    ]
    bench = run.command("bench resnet50", [python, "-m", "resnet_deploy", "bench", *sweep, "--json"], 330)
    if bench is not None:
        run.steps[-1]["results"] = json.loads(bench)["results"]

    if not IMAGENET_SAMPLE.is_dir():
        run.skip("infer imagenet-sample", f"{IMAGENET_SAMPLE} is missing")
    else:
        rows = args.out / "infer.jsonl"
        rows.unlink(missing_ok=True)
        infer = run.command("infer imagenet-sample", [python, "-m", "resnet_deploy", "infer", str(IMAGENET_SAMPLE),
                            "--engine", "resnet50", "--weights", "random", "--device", "cuda", "-o", str(rows),
                            "--json"], 150)  # fmt: skip
        if infer is not None:
            run.steps[-1]["summary"] = json.loads(infer)

    report = {
        "dry_run": args.dry_run,
        "machine": run.machine,
        "seconds": round(time.perf_counter() - started, 1),
        "steps": run.steps,
        "passed": all(step["status"] != "failed" for step in run.steps),
    }
    (args.out / "gpu-acceptance.json").write_text(json.dumps(report, indent=2) + "\n")
    run.log.close()
    print(json.dumps({step["name"]: step["status"] for step in run.steps}), file=sys.stderr)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
