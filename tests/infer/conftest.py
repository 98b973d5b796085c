"""Fixtures for the cluster tests: a ResNet-20 ONNX and a local S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnet_deploy.exporting.export import export_onnx


@pytest.fixture(scope="session")
def resnet20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("r20") / "r20.onnx").path


@dataclass
class S3Server:
    endpoint: str
    client: object  # a boto3 S3 client, for uploads in tests

    def put(self, uri: str, data: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def put_files(self, pairs: list[tuple[str, Path]]) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda pair: self.put(pair[0], pair[1].read_bytes()), pairs))


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """moto's S3 in a thread of this process, on 127.0.0.1: it stops at teardown (or with the process).

    The standard AWS variables point pyarrow (and Ray workers started from here) at it.
    """
    boto3 = pytest.importorskip("boto3", reason="the S3 tests need moto[server] (the [dev] extra)")
    server_module = pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (the [dev] extra)")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items():  # fmt: skip
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bkt")
        try:
            yield S3Server(endpoint, client)
        finally:
            server.stop()
