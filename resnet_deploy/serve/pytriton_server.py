"""Serve any artifact through a real Triton Inference Server on this machine, with PyTriton.

PyTriton ships the Triton server binary and its Python backend, so no container is needed and it
runs on a CPU-only machine. The model is our runner (onnxruntime for .onnx, TensorRT for .plan)
behind Triton's HTTP/gRPC endpoints, with dynamic batching; outputs are the logits and the
top-1 label.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from resnet_deploy.errors import ArtifactError

LOCALHOST = "127.0.0.1"
ALL_INTERFACES = ("0.0.0.0", "::")
STARTUP_TIMEOUT_S = 120.0


def _use_this_interpreters_libpython() -> None:
    """The backend stub links `libpython3.X.so`; put this interpreter's copy first, or a system
    Python of another patch release is loaded against our standard library (and fails)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and Path(libdir, sysconfig.get_config_var("LDLIBRARY") or "").exists():
        current = os.environ.get("LD_LIBRARY_PATH", "")
        if libdir not in current.split(":"):
            os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Refuse a port that is not one, or that something on `host` already listens on, before Triton starts.

    `ports` maps each option (`--http-port`, ...) to its port. tritonserver would exit on a busy port
    while PyTriton waited a minute on whatever holds it.
    """
    for option, port in ports.items():
        if not 1 <= port <= 65535:
            raise ArtifactError(f"{option} {port} is not a port; use 1 to 65535")
    if len(set(ports.values())) < len(ports):
        raise ArtifactError(f"{', '.join(ports)} must be three different ports, got {list(ports.values())}")
    for option, port in ports.items():
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        except socket.gaierror as exc:
            raise ArtifactError(f"--host {host}: {exc.strerror}") from None
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no obstacle
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ArtifactError(
                        f"{option} {port} is already in use on {host}; stop what listens there "
                        f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another {option}"
                    ) from None
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise ArtifactError(f"--host {host} is not an address of this machine") from None
                raise ArtifactError(f"{option} {port} on {host}: {exc.strerror}") from None


def check_serving(
    model_name: str, max_batch: int, host: str, http_port: int, grpc_port: int, metrics_port: int
) -> None:
    """Every option `serve` takes, checked before anything is loaded or started."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", model_name):
        raise ArtifactError(f"--model-name {model_name!r}: use letters, digits, '.', '_' and '-'")
    if max_batch < 1:
        raise ArtifactError(f"--max-batch must be at least 1, got {max_batch}")
    check_ports(host, {"--http-port": http_port, "--grpc-port": grpc_port, "--metrics-port": metrics_port})


def triton_config(host: str, http_port: int, grpc_port: int, metrics_port: int):
    """Triton listens on `host` only, on all three endpoints (its default is every interface)."""
    from pytriton.triton import TritonConfig

    return TritonConfig(http_address=host, http_port=http_port, grpc_address=host, grpc_port=grpc_port,
                        metrics_address=host, metrics_port=metrics_port)  # fmt: skip


def http_url(host: str, port: int) -> str:
    """The URL a client on this machine uses; all interfaces include the loopback."""
    host = LOCALHOST if host in ALL_INTERFACES else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def startup_failure(log: str) -> str:
    """tritonserver's own reason from its log: the last error line (glog `E...] "message"`)."""
    errors = re.findall(r"^E\d{4} [^\]]*\] \"?(.*?)\"?\s*$", log, flags=re.MULTILINE)
    if errors:
        return errors[-1].strip()
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "it printed nothing"


def _answers(url: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
    try:
        with direct.open(f"{url}/v2/health/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _start(triton, url: str, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Start tritonserver and wait until it is ready; if it exits first, raise its own reason at once.

    PyTriton's `run()` waits for readiness with no regard for the process: two minutes on a dead
    server. We start the process with its `_run_server()` and watch it; `run()` then only connects.
    """
    server_start = getattr(triton, "_run_server", None)
    if server_start is not None:  # PyTriton 0.5-0.7; any other keeps its own start-up
        server_start()
        server = triton._triton_server
        deadline = time.monotonic() + timeout_s
        while not _answers(url):
            if not server.is_alive():
                raise ArtifactError(f"the Triton server stopped during start-up: {startup_failure(server.logs())}")
            if time.monotonic() > deadline:
                raise ArtifactError(f"the Triton server was not ready after {timeout_s:.0f}s; see its log above")
            time.sleep(0.2)
    from pytriton.client.exceptions import PyTritonClientError
    from pytriton.exceptions import PyTritonError

    try:
        triton.run()  # connects and loads the model
    except (PyTritonError, PyTritonClientError, TimeoutError) as exc:
        raise ArtifactError(f"the Triton server could not load the model: {exc}; see its log above") from None


@contextlib.contextmanager
def serve(
    artifact: str | Path, *, model_name: str = "resnet", host: str = LOCALHOST, http_port: int = 8000,
    grpc_port: int = 8001, metrics_port: int = 8002, max_batch: int = 64, weights: str | Path | None = None,
) -> Iterator[str]:  # fmt: skip
    """Run Triton with the artifact bound as `model_name`, listening on `host`; yields the HTTP URL."""
    check_serving(model_name, max_batch, host, http_port, grpc_port, metrics_port)
    try:
        from pytriton.decorators import batch
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonLifecyclePolicy
    except ImportError:
        raise ArtifactError("serving needs PyTriton: pip install 'resnet-deploy[serve]'") from None
    from resnet_deploy.backends import open_runner

    runner = open_runner(artifact, weights=weights)  # weights: for an arch name (None: random init)
    if runner.metadata is None:
        raise ArtifactError(f"{artifact} carries no labels or preprocessing; export it with `resnet-deploy export`")
    labels = np.array([label.encode() for label in runner.metadata.labels], dtype=object)
    size = runner.metadata.input_size

    @batch
    def infer(input: np.ndarray) -> dict[str, np.ndarray]:  # noqa: A002 - Triton's tensor name
        logits = runner.infer(input)
        return {"logits": logits, "label": labels[logits.argmax(1)][:, None]}

    _use_this_interpreters_libpython()
    config = triton_config(host, http_port, grpc_port, metrics_port)
    url = http_url(host, http_port)
    # Bind first, then start (not on entering the context) so that start-up is ours to watch.
    policy = TritonLifecyclePolicy(launch_triton_on_startup=False)
    with runner, Triton(config=config, triton_lifecycle_policy=policy) as triton:
        triton.bind(
            model_name=model_name,
            infer_func=infer,
            inputs=[Tensor(name="input", dtype=np.float32, shape=(3, size, size))],
            outputs=[
                Tensor(name="logits", dtype=np.float32, shape=(runner.metadata.num_classes,)),
                Tensor(name="label", dtype=bytes, shape=(1,)),
            ],
            config=ModelConfig(max_batch_size=max_batch, batcher=DynamicBatcher(max_queue_delay_microseconds=100)),
        )
        _start(triton, url)
        yield url
