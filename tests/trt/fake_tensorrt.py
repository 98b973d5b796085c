"""Fakes of the TensorRT engine API the runner touches, one per family and version, for CPU tests.

Each fake has exactly the methods the real bindings have, so code that calls a method a family
lacks fails here as it would on a GPU. What each family has, as read on 2026-11-28:

- Full TensorRT, from NVIDIA's PyPI wheels `tensorrt-cu12-bindings` (`pip download --no-deps`,
  then `strings tensorrt.so`):
  - 10.8.0.43 and 10.10.0.31: no `create_runtime_config` and no IRuntimeConfig class.
  - 10.11.0.33, 10.12.0.36 and 11.4.0.106: `ICudaEngine.create_runtime_config` and an
    IRuntimeConfig whose only members are the execution-context allocation strategy
    (`IRuntimeConfig::setExecutionContextAllocationStrategy`) and which
    `createExecutionContext(IRuntimeConfig*)` takes. No `create_runtime_cache`,
    `set_runtime_cache` or IRuntimeCache in any of them.
  - All of them: `set_input_shape` (returns bool), `infer_shapes`, `execute_async_v3`,
    `device_memory_size_v2`, `engine_host_code_allowed`; DataType BF16, INT64, BOOL, UINT8, INT4.
- TensorRT-RTX 1.7.1.116 (`tensorrt_rtx`, importable here): IRuntimeConfig also has
  `create_runtime_cache`, `set_runtime_cache`, `get_runtime_cache`, `cuda_graph_strategy` and
  `dynamic_shapes_kernel_specialization_strategy`; IRuntimeCache has `serialize`,
  `deserialize` and `reset`. `test_rtx_fake_matches_the_real_module` checks this fake against it.
"""

from __future__ import annotations

from types import SimpleNamespace

FAMILIES = ("tensorrt-10.8", "tensorrt-10.12", "tensorrt-11.4", "tensorrt_rtx-1.7")


class FakeRuntimeCache:
    def __init__(self) -> None:
        self.blob = b""

    def serialize(self) -> bytes:
        return self.blob or b"kernels"

    def deserialize(self, blob: bytes) -> bool:
        self.blob = bytes(blob)
        return True

    def reset(self) -> bool:
        self.blob = b""
        return True


class FakeRuntimeConfigTrt:
    """Full TensorRT 10.11+ / 11.x: the allocation strategy only."""

    def __init__(self) -> None:
        self.strategy = "STATIC"

    def set_execution_context_allocation_strategy(self, strategy) -> None:
        self.strategy = strategy

    def get_execution_context_allocation_strategy(self):
        return self.strategy


class FakeRuntimeConfigRtx(FakeRuntimeConfigTrt):
    """TensorRT-RTX: the allocation strategy plus the runtime cache of JIT-compiled kernels."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None
        self.cuda_graph_strategy = None
        self.dynamic_shapes_kernel_specialization_strategy = None

    def create_runtime_cache(self) -> FakeRuntimeCache:
        return FakeRuntimeCache()

    def set_runtime_cache(self, cache: FakeRuntimeCache) -> bool:
        self.cache = cache
        return True

    def get_runtime_cache(self) -> FakeRuntimeCache | None:
        return self.cache


class FakeContext:
    """An execution context for a profile of batches low..high; records what it was given."""

    def __init__(self, low: int, high: int, config=None, unspecified: list[str] | None = None) -> None:
        self.low, self.high, self.config = low, high, config
        self.unspecified = unspecified or []
        self.shape: tuple[int, ...] | None = None

    def set_input_shape(self, name: str, shape) -> bool:
        if not self.low <= shape[0] <= self.high:
            return False  # TensorRT reports an out-of-profile shape by returning False
        self.shape = tuple(shape)
        return True

    def infer_shapes(self) -> list[str]:
        return list(self.unspecified)


class _Engine:
    def __init__(self, low: int = 1, high: int = 8) -> None:
        self.low, self.high = low, high
        self.contexts: list[FakeContext] = []


class FakeEngineTrt108(_Engine):
    """TensorRT 10.8-10.10: no runtime config at all."""

    def create_execution_context(self, strategy=None) -> FakeContext:
        self.contexts.append(FakeContext(self.low, self.high))
        return self.contexts[-1]


class FakeEngineTrt1011(FakeEngineTrt108):
    """TensorRT 10.11+ and 11.x: a runtime config without a runtime cache."""

    config_type = FakeRuntimeConfigTrt

    def create_runtime_config(self):
        return self.config_type()

    def create_execution_context(self, config_or_strategy=None) -> FakeContext:
        config = config_or_strategy if isinstance(config_or_strategy, FakeRuntimeConfigTrt) else None
        self.contexts.append(FakeContext(self.low, self.high, config))
        return self.contexts[-1]


class FakeEngineRtx(FakeEngineTrt1011):
    config_type = FakeRuntimeConfigRtx


def fake_engine(family: str, low: int = 1, high: int = 8) -> _Engine:
    engine_type = {
        "tensorrt-10.8": FakeEngineTrt108,
        "tensorrt-10.12": FakeEngineTrt1011,
        "tensorrt-11.4": FakeEngineTrt1011,
        "tensorrt_rtx-1.7": FakeEngineRtx,
    }[family]
    return engine_type(low, high)


def runner_stub(engine: _Engine) -> SimpleNamespace:
    """What `TensorRTRunner`'s context methods read from `self`, without a GPU."""
    return SimpleNamespace(engine=engine)
