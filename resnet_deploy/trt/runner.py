"""`TensorRTRunner`: runs a plan through the runner protocol.

Device memory is torch CUDA tensors (NVIDIA's samples dropped pycuda in TensorRT 10.14, and
torch is already here). Per chunk: `set_input_shape` (its bool result checked, then
`infer_shapes()`, which names any tensor still unspecified), `set_tensor_address` for every I/O
tensor, then `execute_async_v3` on the runner's own CUDA stream (TensorRT Python API,
IExecutionContext; NVIDIA/TensorRT samples/python/common_runtime.py). The legacy default stream
would add implicit device-wide synchronisations. The runner's stream waits for the caller's
stream before it reads the input, and the caller's stream waits for it before the logits are
used, so callers simply use torch's current stream.

Outputs are allocated once per shape and reused: every execution runs on the one runner stream,
so a buffer is never rewritten while an earlier chunk still reads it. A batch above the profile's
max is split; one below its min is zero-padded and the extra rows dropped.

Before anything is deserialized, the sidecar is checked against this machine and the plan
against its sha256. Plans are data: host code stays disallowed unless the caller allows it.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import InputSpec, Runner
from resnet_deploy.errors import ArtifactError, OutputError
from resnet_deploy.exporting.metadata import BatchRange
from resnet_deploy.machine import cuda_gpu
from resnet_deploy.trt.adapter import plan_chunks, runtime_config_for, supports_runtime_cache, torch_dtype_name
from resnet_deploy.trt.loader import engine_module
from resnet_deploy.trt.sidecar import NO_GPU, EngineSidecar, compatibility_problems, sidecar_path

# What the TensorRT bindings raise for a call they refuse (pybind11 maps C++ errors to these).
TRT_ERRORS = (RuntimeError, TypeError, ValueError)


def _installed_version(module: str) -> str | None:
    import importlib

    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def plan_problems(sidecar: EngineSidecar) -> list[str]:
    """Why the plan this sidecar describes cannot run here (runtime, GPU); [] if it can."""
    gpu = cuda_gpu()
    return compatibility_problems(sidecar, _installed_version(sidecar.runtime), gpu[1] if gpu else None)


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
            f"rebuild it: {sidecar.rebuild_command(plan)}"
        )
    if check_sidecar:
        problems = plan_problems(sidecar)
        if problems == [NO_GPU]:
            raise ArtifactError(f"there is no CUDA GPU here: {plan} can be built on this machine but not run")
        if problems:
            raise ArtifactError(
                f"{plan} was built for {sidecar.built_for()}, but here {' and '.join(problems)}; "
                f"rebuild it on this machine: {sidecar.rebuild_command(plan)}"
            )
    return data, sidecar


def save_runtime_cache(cache, path: Path) -> None:
    """Keep TensorRT-RTX's JIT-compiled kernels for the next run; a plan in a read-only place
    only costs the next run its compile time, so a failed write is a warning, not an error."""
    from resnet_deploy.atomic import atomic_write_bytes

    try:
        atomic_write_bytes(path, bytes(cache.serialize()))
    except (OSError, OutputError) as exc:
        warnings.warn(f"could not save the TensorRT-RTX runtime cache {path} ({exc}); kernels compile again next run",
                      RuntimeWarning, stacklevel=2)  # fmt: skip


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
        self.plan = plan
        self.sidecar = sidecar
        self.metadata = sidecar.metadata if sidecar else None
        trt = engine_module(module or (sidecar.runtime if sidecar else "tensorrt"))
        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._runtime.engine_host_code_allowed = allow_host_code  # plans are data unless trusted
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:  # TensorRT returns None rather than raising
            hint = f" rebuild it: {sidecar.rebuild_command(plan)}" if sidecar else ""
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
        self.output_dtype = self._torch_dtype(self.engine.get_tensor_dtype(self.output_name))
        self.input_dtype = self._torch_dtype(self.engine.get_tensor_dtype(self.input_name))
        self.device = "cuda"
        self.stream = torch.cuda.Stream()  # every execution runs here; see the module docstring
        self._outputs: dict[tuple[int, ...], object] = {}

    def _create_context(self, trt, plan: Path):
        """An execution context; with TensorRT-RTX, one whose JIT kernels persist in a runtime cache."""
        self._runtime_cache, self._runtime_cache_path = None, plan.with_suffix(".runtime_cache")
        try:
            config = runtime_config_for(self.engine)
            if supports_runtime_cache(config):
                cache = config.create_runtime_cache()
                if self._runtime_cache_path.is_file():  # a stale cache is refused by TensorRT-RTX and rebuilt
                    cache.deserialize(self._runtime_cache_path.read_bytes())
                config.set_runtime_cache(cache)
                self._runtime_cache = cache
            context = (self.engine.create_execution_context(config) if config is not None
                       else self.engine.create_execution_context())  # fmt: skip
        except TRT_ERRORS as exc:
            raise ArtifactError(f"could not create an execution context for {plan}: {exc}") from None
        if context is None:
            raise ArtifactError(f"could not create an execution context for {plan} (out of GPU memory?)")
        return context

    def _torch_dtype(self, trt_dtype):
        name = torch_dtype_name(trt_dtype)
        if name is None:
            raise ArtifactError(f"{self.plan} has an I/O tensor of type {trt_dtype}, which the runner cannot hold")
        return getattr(self._torch, name)

    def _set_input_shape(self, shape: tuple[int, ...]) -> None:
        if not self.context.set_input_shape(self.input_name, shape):
            raise ArtifactError(
                f"TensorRT refused input shape {shape} for {self.plan}; its profile takes batches "
                f"{self.profile.min}..{self.profile.max}"
            )
        unspecified = self.context.infer_shapes()
        if unspecified:
            raise ArtifactError(f"TensorRT could not infer the shapes of {list(unspecified)} in {self.plan}")

    def _execute(self, rows):
        """Run one chunk on the runner's stream; returns the (reused) output buffer."""
        torch = self._torch
        self._set_input_shape(tuple(rows.shape))
        out_shape = tuple(self.context.get_tensor_shape(self.output_name))
        output = self._outputs.get(out_shape)
        if output is None:
            output = self._outputs[out_shape] = torch.empty(out_shape, dtype=self.output_dtype, device="cuda")
        self.context.set_tensor_address(self.input_name, rows.data_ptr())
        self.context.set_tensor_address(self.output_name, output.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise ArtifactError("TensorRT execution failed (see its log above)")
        return output

    def infer_torch(self, batch):
        """Logits for a CUDA tensor batch (no host copies), ordered with the caller's current stream."""
        torch = self._torch
        caller = torch.cuda.current_stream()
        self.stream.wait_stream(caller)  # the batch may still be being written on the caller's stream
        batch.record_stream(self.stream)  # ...and must not be freed while this stream reads it
        results = []
        with torch.cuda.stream(self.stream):
            for chunk in plan_chunks(batch.shape[0], self.profile.min, self.profile.max):
                rows = batch[chunk.start : chunk.stop].to(self.input_dtype)
                if chunk.run_rows > chunk.rows:  # below the profile's min: pad, then drop the extra rows
                    rows = torch.cat([rows, rows.new_zeros((chunk.run_rows - chunk.rows, *rows.shape[1:]))])
                output = self._execute(rows.contiguous())
                results.append(output[: chunk.rows].float().clone())  # the buffer is reused: copy out
            logits = torch.cat(results)
        caller.wait_stream(self.stream)
        logits.record_stream(caller)
        return logits

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        host = torch.from_numpy(batch).pin_memory()
        device = host.to("cuda", non_blocking=True)
        return self.infer_torch(device).cpu().numpy()  # .cpu() waits for the stream

    def _close(self) -> None:
        if self._runtime_cache is not None:
            save_runtime_cache(self._runtime_cache, self._runtime_cache_path)
        self._outputs.clear()
        del self.context, self.engine
