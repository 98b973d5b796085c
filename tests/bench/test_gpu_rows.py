"""The GPU bench's decisions, tested on the CPU: TF32 vs strict fp32, peaks by GPU name, rows that
must be skipped with their reason, device memory outside torch, CUDA-graph and compile rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from resnet_deploy.bench import sweep
from resnet_deploy.bench.peaks import gpu_entry, peak_tflops
from resnet_deploy.bench.targets import ORT_CUDA_INT8, Skip, Target, _first_call, onnxruntime_target, torch_target

# torch.cuda.get_device_name as it spells real GPUs -> the peak-table entry
GPU_NAMES = {
    "NVIDIA H100 80GB HBM3": "h100 80gb hbm3",
    "NVIDIA H100 PCIe": "h100 pcie",
    "NVIDIA H100 NVL": "h100 nvl",
    "NVIDIA H200": "h200",
    "NVIDIA H200 NVL": "h200 nvl",
    "NVIDIA A100-SXM4-80GB": "a100",
    "NVIDIA A100 80GB PCIe": "a100",
    "NVIDIA L4": "l4",
    "NVIDIA L40S": "l40s",
    "NVIDIA L40": "l40",
    "NVIDIA A10": "a10",
    "NVIDIA A10G": None,  # not in the table: no fraction rather than the A10's
    "Tesla T4": "t4",
    "NVIDIA GeForce RTX 4090": "rtx 4090",
}


@pytest.mark.parametrize(("name", "entry"), GPU_NAMES.items())
def test_gpu_names_match_whole_words_most_specific_first(name: str, entry: str | None) -> None:
    assert gpu_entry(name) == entry


def test_tf32_rows_use_the_tensor_core_peak() -> None:
    assert peak_tflops("NVIDIA H200", "tf32") == peak_tflops("NVIDIA H100 80GB HBM3", "tf32") == 494.7
    assert peak_tflops("NVIDIA H200", "fp32") == 67.0  # strict fp32: the CUDA-core rate
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "tf32") == 156.0
    assert peak_tflops("NVIDIA L40S", "tf32") == 183.0 and peak_tflops("NVIDIA L4", "tf32") == 60.0
    assert peak_tflops("NVIDIA H200 NVL", "fp16") == 835.0 and peak_tflops("NVIDIA H200 NVL", "int8") == 1670.0
    assert peak_tflops("Tesla T4", "tf32") is None  # Turing has no TF32


def test_rows_that_cannot_be_measured_say_why() -> None:
    with pytest.raises(Skip, match="tensor-core mode of NVIDIA GPUs"):
        torch_target("resnet20", "tf32", "cpu", 32, compiled=False)
    with pytest.raises(Skip, match="tensor-core mode of NVIDIA GPUs"):
        onnxruntime_target("resnet20", "tf32", "cpu", 32)
    with pytest.raises(Skip) as skipped:
        onnxruntime_target("resnet20", "int8", "cuda", 32)
    assert str(skipped.value) == ORT_CUDA_INT8 and "fake quantization" in ORT_CUDA_INT8


def test_a_compile_failure_at_the_first_call_is_a_skip() -> None:
    def broken() -> None:
        raise RuntimeError("InductorError: no C compiler\nmore detail")

    with pytest.raises(Skip, match="torch.compile failed at the first call: RuntimeError: InductorError"):
        _first_call(broken, compiled=True)
    _first_call(broken, compiled=False)  # eager models are not called ahead of time


def test_a_skip_while_preparing_a_batch_is_a_skipped_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def prepare(batch: int):
        raise Skip("torch.compile failed at the first call: RuntimeError: boom")

    target = Target("torch-compile", "fp32", "cpu", "resnet20", 32, prepare)
    monkeypatch.setattr(sweep, "_make_target", lambda *args: target)
    report = sweep.run_bench(arch="resnet20", backends=["torch-compile"], batch_sizes=[1], warmup_s=0, duration_s=0.01)
    assert [(row["status"], row["reason"]) for row in report.results] == [
        ("skipped", "torch.compile failed at the first call: RuntimeError: boom")
    ]


def test_device_memory_outside_torch_is_measured_from_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (80 * gib - 3 * gib // 2, 80 * gib))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 64 * 2**20)
    trt = SimpleNamespace(backend="tensorrt", engine_memory_bytes=96 * 2**20)
    assert sweep._device_memory(trt, baseline=gib) == {"device_memory_mb": 512.0, "engine_memory_mb": 96.0}
    ort = SimpleNamespace(backend="onnxruntime", engine_memory_bytes=None)
    assert sweep._device_memory(ort, baseline=gib) == {"device_memory_mb": 512.0}
    eager = SimpleNamespace(backend="torch", engine_memory_bytes=None)
    assert sweep._device_memory(eager, baseline=gib) == {"peak_memory_mb": 64.0}  # torch's own allocator


def test_tf32_mode_sets_and_restores_both_flags() -> None:
    torch = pytest.importorskip("torch")
    from resnet_deploy.backends.torch_runner import tf32_mode

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    with tf32_mode(False):
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    with tf32_mode(True):
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before


def test_the_cpu_sweep_takes_the_new_options() -> None:
    report = sweep.run_bench(arch="resnet20", backends=["onnxruntime"], precisions=["fp32", "tf32"], batch_sizes=[2],
                             warmup_s=0, duration_s=0.05, cuda_graphs=True)  # fmt: skip
    statuses = [(row["precision"], row["status"]) for row in report.results]
    assert statuses == [("fp32", "ok"), ("tf32", "skipped")]
    assert "cuda_graph" not in report.results[0]  # a CPU row has no graph column


def test_doctor_says_when_both_onnxruntime_packages_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_deploy import doctor

    monkeypatch.setattr(doctor, "package_version", lambda dist: "1.32.0")
    report = doctor.environment_report()
    assert report["onnxruntime_packages"] == ["onnxruntime", "onnxruntime-gpu"]
    assert doctor.ORT_BOTH in report["verdict"]
