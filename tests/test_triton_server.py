"""A real Triton server (PyTriton's bundled tritonserver) serving the exported ResNet-20 on the
CPU: one HTTP inference over the KServe v2 protocol, with its label."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.data.decode import load_rgb
from resnet_deploy.exporting.export import export_onnx

pytest.importorskip("pytriton", reason="PyTriton is not installed (pip install '.[serve]')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_inference_returns_logits_and_label(resnet20_weights: Path, cifar_test: Path, tmp_path: Path) -> None:
    from resnet_deploy.serve.pytriton_server import serve

    model = export_onnx("resnet20", weights=resnet20_weights, output=tmp_path / "r20.onnx")
    spec = model.metadata.preprocess
    images = [cifar_test / "ship" / "0001.jpg", cifar_test / "automobile" / "0002.jpg"]
    batch = np.stack([spec(load_rgb(p)) for p in images])
    ports = {"http_port": _free_port(), "grpc_port": _free_port(), "metrics_port": _free_port()}
    with serve(model.path, model_name="resnet20", **ports) as url:
        with urllib.request.urlopen(f"{url}/v2/models/resnet20/ready", timeout=10) as ready:
            assert ready.status == 200
        body = {
            "inputs": [
                {"name": "input", "shape": list(batch.shape), "datatype": "FP32", "data": batch.flatten().tolist()}
            ],  # fmt: skip
            "outputs": [{"name": "logits"}, {"name": "label"}],
        }
        request = urllib.request.Request(f"{url}/v2/models/resnet20/infer", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            outputs = {o["name"]: o for o in json.loads(response.read())["outputs"]}
    logits = np.asarray(outputs["logits"]["data"], np.float32).reshape(2, 10)
    from resnet_deploy.backends import open_runner

    with open_runner(model.path) as runner:
        np.testing.assert_allclose(logits, runner.infer(batch), atol=1e-4)
    predicted = [model.metadata.labels[i] for i in logits.argmax(1)]
    assert outputs["label"]["data"] == predicted
