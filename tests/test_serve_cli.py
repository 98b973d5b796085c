"""`serve` without starting a server: ports and host are checked first, and it listens on 127.0.0.1
unless told otherwise. (tests/test_triton_server.py starts real ones.)"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.errors import ArtifactError
from resnet_deploy.serve import pytriton_server
from resnet_deploy.serve.pytriton_server import check_ports, http_url, startup_failure
from tests.cli_checks import one_line_error

runner = CliRunner()


@pytest.fixture
def held_port():
    """A port something else listens on, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _ports(http: int) -> list[str]:
    return ["--http-port", str(http), "--grpc-port", str(http + 1), "--metrics-port", str(http + 2)]


def test_invalid_port_is_one_line(resnet20_weights: Path) -> None:
    result = runner.invoke(app, ["serve", str(resnet20_weights), "--http-port", "99999"])
    one_line_error(result, "--http-port 99999 is not a port; use 1 to 65535")
    result = runner.invoke(app, ["serve", str(resnet20_weights), "--grpc-port", "8000"])
    one_line_error(result, "--http-port, --grpc-port, --metrics-port must be three different ports")


def test_port_in_use_is_named_before_start(resnet20_weights: Path, held_port: int) -> None:
    result = runner.invoke(app, ["serve", str(resnet20_weights), *_ports(held_port)])
    one_line_error(result, f"--http-port {held_port} is already in use on 127.0.0.1; stop what listens there")
    assert "or choose another --http-port" in result.output
    with pytest.raises(ArtifactError, match=f"--metrics-port {held_port} is already in use on 0.0.0.0"):
        check_ports("0.0.0.0", {"--metrics-port": held_port})


def test_bad_host_and_model_name(resnet20_weights: Path) -> None:
    result = runner.invoke(app, ["serve", str(resnet20_weights), "--host", "192.0.2.1"])  # TEST-NET-1: not ours
    one_line_error(result, "--host 192.0.2.1 is not an address of this machine")
    result = runner.invoke(app, ["serve", str(resnet20_weights), "--model-name", "my model"])
    one_line_error(result, "--model-name 'my model': use letters, digits")


@pytest.mark.parametrize(
    ("args", "host", "warned"), [([], "127.0.0.1", False), (["--host", "0.0.0.0"], "0.0.0.0", True)]
)
def test_listens_on_loopback_unless_told(
    args: list[str], host: str, warned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict = {}

    @contextlib.contextmanager
    def fake_serve(artifact: str, **options):
        seen.update(options)
        raise ArtifactError("stopped before starting")
        yield  # pragma: no cover

    monkeypatch.setattr(pytriton_server, "serve", fake_serve)
    with socket.socket() as sock:  # three free ports: the defaults may be taken on a shared machine
        sock.bind(("127.0.0.1", 0))
        ports = _ports(sock.getsockname()[1])
    result = runner.invoke(app, ["serve", "model.onnx", *args, *ports])
    one_line_error(result, "stopped before starting")
    assert seen["host"] == host
    assert ("WARNING: --host 0.0.0.0: listening on every network interface" in result.output) == warned


def test_the_triton_config_binds_every_endpoint_to_the_host() -> None:
    pytest.importorskip("pytriton", reason="PyTriton is not installed (pip install '.[serve]')")
    config = pytriton_server.triton_config("127.0.0.1", 18000, 18001, 18002)
    assert (config.http_address, config.grpc_address, config.metrics_address) == ("127.0.0.1",) * 3
    assert (config.http_port, config.grpc_port, config.metrics_port) == (18000, 18001, 18002)


def test_urls_and_startup_reason() -> None:
    assert http_url("0.0.0.0", 8000) == "http://127.0.0.1:8000" and http_url("::1", 8000) == "http://[::1]:8000"
    log = (
        'I1128 18:33:47.247 7559 grpc_server.cc:2558] "Started GRPCInferenceService at 0.0.0.0:18501"\n'
        "Error: Failed to initialize NVML\n"
        'E1128 18:33:47.288 7559 main.cc:257] "failed to start HTTP service: Unavailable - Socket '
        "'0.0.0.0:18500' already in use \"\n"
    )
    assert startup_failure(log) == "failed to start HTTP service: Unavailable - Socket '0.0.0.0:18500' already in use"
    assert startup_failure("") == "it printed nothing"
