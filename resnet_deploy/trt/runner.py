"""`TensorRTRunner`: runs a plan through the runner protocol.

Device memory is torch CUDA tensors (NVIDIA's samples dropped pycuda in TensorRT 10.14, and
torch is already here). Per batch: `set_input_shape`, `set_tensor_address` for every I/O
tensor, then `execute_async_v3` on torch's current stream (TensorRT Python API: IExecutionContext).
Outputs are allocated once per shape and reused; a batch above the profile's max is split.

Before anything is deserialized, the sidecar is checked against this machine and the plan
against its sha256. Plans are data: host code stays disallowed unless the caller allows it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import InputSpec, Runner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import BatchRange
from resnet_deploy.machine import cuda_gpu
from resnet_deploy.trt.loader import engine_module
from resnet_deploy.trt.sidecar import NO_GPU, EngineSidecar, compatibility_problems, sidecar_path


def _installed_version(module: str) -> str | None:
    import importlib

    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def load_checked_plan(plan: Path, *, check_sidecar: bool = True) -> tuple[bytes, EngineSidecar | None]:
    """The plan's bytes and sidecar, refusing a corrupted plan or one built for elsewhere."""
    if not plan.is_file():
        raise ArtifactError(f"plan {plan} not found; build it with `resnet-deploy build MODEL.onnx`")
    data = plan.read_bytes()
    side = sidecar_path(plan)
    if not side.is_file():
        if check_sidecar:
            raise ArtifactError(
                f"{plan} has no sidecar {side.name}, so its runtime, GPU and labels are unknown; rebuild it "
                "with `resnet-deploy build`, or pass --no-sidecar-check to load it anyway"
            )
        return data, None
    sidecar = EngineSidecar.read(side)
    if hashlib.sha256(data).hexdigest() != sidecar.plan_sha256:
        raise ArtifactError(
            f"{plan} does not match the sha256 in {side.name}: the plan is corrupted or was replaced; "
            f"rebuild it: {sidecar.rebuild_command()}"
        )
    if check_sidecar:
        gpu = cuda_gpu()
        problems = compatibility_problems(sidecar, _installed_version(sidecar.runtime), gpu[1] if gpu else None)
        if problems == [NO_GPU]:
            raise ArtifactError(f"there is no CUDA GPU here: {plan} can be built on this machine but not run")
        if problems:
            raise ArtifactError(
                f"{plan} was built for {sidecar.built_for()}, but here {' and '.join(problems)}; "
                f"rebuild it on this machine: {sidecar.rebuild_command()}"
            )
    return data, sidecar


class TensorRTRunner(Runner):
    backend = "tensorrt"

    def __init__(
        self,
        plan: str | Path,
        *,
        check_sidecar: bool = True,
        allow_host_code: bool = False,
        module: str | None = None,
    ) -> None:
        import torch

        super().__init__()
        plan = Path(plan)
        data, sidecar = load_checked_plan(plan, check_sidecar=check_sidecar)
        if not torch.cuda.is_available():
            raise ArtifactError("there is no CUDA GPU here: TensorRT plans can be built on this machine but not run")
        self.sidecar = sidecar
        self.metadata = sidecar.metadata if sidecar else None
        trt = engine_module(module or (sidecar.runtime if sidecar else "tensorrt"))
        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._runtime.engine_host_code_allowed = allow_host_code  # plans are data unless trusted
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:  # TensorRT returns None rather than raising
            hint = f" rebuild it: {sidecar.rebuild_command()}" if sidecar else ""
            raise ArtifactError(f"{trt.__name__} could not deserialize {plan} (see its log above);{hint}")
        self.context = self._create_context(trt, plan)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        modes = {n: self.engine.get_tensor_mode(n) for n in names}
        inputs = [n for n in names if modes[n] == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if modes[n] == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ArtifactError(f"{plan} has inputs {inputs} and outputs {outputs}; expected one of each")
        self.input_name, self.output_name = inputs[0], outputs[0]
        low, opt, high = (tuple(s) for s in self.engine.get_tensor_profile_shape(self.input_name, 0))
        self.profile = BatchRange(low[0], opt[0], high[0])
        fixed = low[0] if low[0] == high[0] else None
        self.input = InputSpec(self.input_name, (fixed, low[1], low[2], low[3]), batch=self.profile)
        self.output_dtype = self._torch_dtype(trt, self.engine.get_tensor_dtype(self.output_name))
        self.input_dtype = self._torch_dtype(trt, self.engine.get_tensor_dtype(self.input_name))
        self.device = "cuda"
        self._outputs: dict[tuple[int, ...], object] = {}

    def _create_context(self, trt, plan: Path):
        # TensorRT-RTX compiles kernels just in time; its runtime cache keeps them across runs.
        if hasattr(self.engine, "create_runtime_config"):
            config = self.engine.create_runtime_config()
            cache = config.create_runtime_cache()
            self._runtime_cache_path = plan.with_suffix(".runtime_cache")
            if self._runtime_cache_path.is_file():
                cache.deserialize(self._runtime_cache_path.read_bytes())
            config.set_runtime_cache(cache)
            self._runtime_cache = cache
            context = self.engine.create_execution_context(config)
        else:
            self._runtime_cache = None
            context = self.engine.create_execution_context()
        if context is None:
            raise ArtifactError(f"could not create an execution context for {plan} (out of GPU memory?)")
        return context

    def _torch_dtype(self, trt, dtype):
        torch = self._torch
        table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16, trt.DataType.INT8: torch.int8,
                 trt.DataType.INT32: torch.int32}  # fmt: skip
        return table[dtype]

    def infer_torch(self, batch):
        """Logits for a CUDA tensor batch (no host copies): used by `infer` and `bench` on GPU."""
        torch = self._torch
        results = []
        for start in range(0, batch.shape[0], self.profile.max):
            chunk = batch[start : start + self.profile.max].to(self.input_dtype).contiguous()
            shape = tuple(chunk.shape)
            self.context.set_input_shape(self.input_name, shape)
            out_shape = tuple(self.context.get_tensor_shape(self.output_name))
            output = self._outputs.get(out_shape)
            if output is None:
                output = self._outputs[out_shape] = torch.empty(out_shape, dtype=self.output_dtype, device="cuda")
            self.context.set_tensor_address(self.input_name, chunk.data_ptr())
            self.context.set_tensor_address(self.output_name, output.data_ptr())
            stream = torch.cuda.current_stream()
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise ArtifactError("TensorRT execution failed (see its log above)")
            # The output buffer is reused for the next chunk of this shape: copy it out first.
            results.append(output.float().clone())
        return torch.cat(results)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        host = torch.from_numpy(batch).pin_memory()
        device = host.to("cuda", non_blocking=True)
        return self.infer_torch(device).cpu().numpy()  # .cpu() waits for the stream

    def _close(self) -> None:
        if self._runtime_cache is not None:
            from resnet_deploy.atomic import atomic_write_bytes

            atomic_write_bytes(self._runtime_cache_path, bytes(self._runtime_cache.serialize()))
        self._outputs.clear()
        del self.context, self.engine
