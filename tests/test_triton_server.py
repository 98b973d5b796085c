"""A real Triton server (PyTriton's bundled tritonserver) serving the exported ResNet-20 on the
CPU, started as `resnet-deploy serve` in its own process: one HTTP (KServe v2) inference, with
its labels."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.backends import open_runner
from resnet_deploy.data.decode import load_rgb
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.serve import pytriton_server

pytest.importorskip("pytriton", reason="PyTriton is not installed (pip install '.[serve]')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/v2/models/resnet20/ready", timeout=2) as ready:
                if ready.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail("the server did not become ready")


def test_http_inference_returns_logits_and_label(resnet20_weights: Path, cifar_test: Path, tmp_path: Path) -> None:
    model = export_onnx("resnet20", weights=resnet20_weights, output=tmp_path / "r20.onnx")
    spec = model.metadata.preprocess
    images = [cifar_test / "ship" / "0001.jpg", cifar_test / "automobile" / "0002.jpg"]
    batch = np.stack([spec(load_rgb(p)) for p in images])
    http = _free_port()
    ports = ["--http-port", str(http), "--grpc-port", str(_free_port()), "--metrics-port", str(_free_port())]
    command = [sys.executable, "-m", "resnet_deploy", "serve", str(model.path), "--model-name", "resnet20", *ports]
    log = tmp_path / "server.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    try:
        _wait_ready(url, process)
        # It listens on 127.0.0.1 only: another loopback address of this machine is refused.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", http), timeout=5).close()
        body = {
            "inputs": [
                {"name": "input", "shape": list(batch.shape), "datatype": "FP32", "data": batch.flatten().tolist()}
            ],  # fmt: skip
            "outputs": [{"name": "logits"}, {"name": "label"}],
        }
        request = urllib.request.Request(f"{url}/v2/models/resnet20/infer", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                outputs = {o["name"]: o for o in json.loads(response.read())["outputs"]}
        except urllib.error.HTTPError as exc:
            pytest.fail(f"Triton answered {exc.code}: {exc.read().decode(errors='replace')[:500]}")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    logits = np.asarray(outputs["logits"]["data"], np.float32).reshape(2, 10)
    with open_runner(model.path) as runner:
        np.testing.assert_allclose(logits, runner.infer(batch), atol=1e-4)
    assert outputs["label"]["data"] == [model.metadata.labels[i] for i in logits.argmax(1)]
    assert outputs["label"]["data"] == ["ship", "automobile"]
    assert f"serving resnet20 on 127.0.0.1: HTTP {url}" in log.read_text()


def test_a_server_that_dies_at_start_up_says_why_at_once(
    resnet20_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tritonserver exits at once on a busy port; its reason is the error, not a minute of waiting."""
    model = export_onnx("resnet20", weights=resnet20_weights, output=tmp_path / "r20.onnx")
    monkeypatch.setattr(pytriton_server, "check_ports", lambda *args: None)  # let Triton find the busy port
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ArtifactError, match=f"stopped during start-up: .*'127.0.0.1:{port}' already in use"):
            with pytriton_server.serve(model.path, http_port=port, grpc_port=_free_port(), metrics_port=_free_port()):
                pytest.fail("the server started on a busy port")
