"""`--weights`: the default set downloaded from a mirror (a real HTTP server on 127.0.0.1), verified,
cached in $TORCH_HOME, reused offline; broken downloads leave nothing; clear one-line errors."""

from __future__ import annotations

import dataclasses
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.exporting.metadata import read_metadata
from resnet_deploy.exporting.onnx_file import load_onnx
from resnet_deploy.models import registry
from resnet_deploy.models.pretrained import MIRROR_ENV
from resnet_deploy.models.weights import file_sha256
from tests.conftest import RESNET20_JPEG_TOP1, SHARED
from tests.test_cli_onnx import _one_line_error

cli = CliRunner()
R20 = "resnet20-12fca82f.th"
R20_URL = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/" + R20
IMAGENET_SAMPLE = SHARED / "data" / "imagenet-sample" / "val"


class FileServer:
    """Serves `files` (name -> bytes) on 127.0.0.1 for at most `limit` requests, in a thread.

    A name in `broken` is sent with its full Content-Length but only half its bytes, then the
    connection is closed: a download dropped mid-file."""

    def __init__(self, limit: int = 8) -> None:
        self.files: dict[str, bytes] = {}
        self.broken: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                name = self.path.lstrip("/")
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if name in server.broken else data)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 0.1
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(limit,), daemon=True)
        self.thread.start()

    def _serve(self, limit: int) -> None:
        while not self.stopped.is_set() and len(self.requests) < limit:
            self.httpd.handle_request()
        self.httpd.server_close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FileServer]:
    serving = FileServer()
    monkeypatch.setenv(MIRROR_ENV, serving.url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    yield serving
    serving.stop()


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_default_set_is_downloaded_verified_cached_and_scores(
    server: FileServer, resnet20_weights: Path, cifar_test: Path, tmp_path: Path
) -> None:
    server.files[R20] = resnet20_weights.read_bytes()
    first = cli.invoke(app, ["export", "--arch", "resnet20", "-o", str(tmp_path / "a.onnx")])  # no --weights
    assert first.exit_code == 0, first.output
    assert server.requests == [R20] and "downloaded resnet20-12fca82f.th" in first.output
    assert [p.name for p in _cache(tmp_path).iterdir()] == [R20]  # no temporary file left behind
    assert file_sha256(_cache(tmp_path) / R20) == file_sha256(resnet20_weights)
    meta = read_metadata(load_onnx(tmp_path / "a.onnx", with_weights=False))
    assert meta.weight_set == {"name": "cifar10", "url": R20_URL, "sha256": file_sha256(resnet20_weights)}
    assert meta.weights_sha256 == meta.weight_set["sha256"] and not meta.random_init

    server.stop()  # a second run reads the cache and never touches the network
    again = cli.invoke(app, ["export", "--arch", "resnet20", "-o", str(tmp_path / "b.onnx"), "--json"])
    assert again.exit_code == 0, again.output
    assert server.requests == [R20] and json.loads(again.stdout)["weight_set"]["name"] == "cifar10"

    scored = cli.invoke(app, ["eval", str(tmp_path / "a.onnx"), "--images", str(cifar_test), "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["top1"] == RESNET20_JPEG_TOP1  # 8,103 of 10,000, as published here
    # check finds the reference weights from the set the ONNX records, in the cache.
    checked = cli.invoke(app, ["check", str(tmp_path / "a.onnx"), "--images", str(cifar_test), "--num-images", "64"])
    assert checked.exit_code == 0 and "PASS" in checked.output, checked.output


@pytest.mark.parametrize("fault", ["corrupt", "404", "dropped"])
def test_broken_downloads_leave_nothing(server: FileServer, resnet20_weights: Path, tmp_path: Path, fault: str) -> None:
    data = bytearray(resnet20_weights.read_bytes())
    if fault == "corrupt":
        data[len(data) // 2] ^= 0xFF
    if fault != "404":
        server.files[R20] = bytes(data)
    if fault == "dropped":
        server.broken.add(R20)
    result = cli.invoke(app, ["export", "--arch", "resnet20", "-o", str(tmp_path / "x.onnx")])
    expected = {
        "corrupt": "does not match the published sha256 of resnet20 weights cifar10",
        "404": "HTTP 404",
        "dropped": f"broke off after {len(data) // 2:,} of {len(data):,} bytes",
    }[fault]
    line = _one_line_error(result, expected)
    assert "nothing was cached" in line and server.requests == [R20]
    assert not any(_cache(tmp_path).iterdir()) and not (tmp_path / "x.onnx").exists()


def test_offline_without_cache_or_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for proxy in ("https_proxy", "HTTPS_PROXY"):  # a closed local port: refused at once, as offline
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    for no_proxy in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(no_proxy, raising=False)
    line = _one_line_error(cli.invoke(app, ["export", "--arch", "resnet20"]), "Offline?")
    expected = (
        f"error: cannot download resnet20 weights cifar10 from {R20_URL} (REASON). Offline? Put that file at "
        f"{_cache(tmp_path) / R20} by hand (or set {MIRROR_ENV} to a folder or URL that has it), "
        "or pass --weights random"
    )
    assert re.fullmatch(re.escape(expected).replace("REASON", r"[^()]+"), line), line


def test_a_damaged_cached_file_is_refused_not_replaced(
    server: FileServer, resnet20_weights: Path, tmp_path: Path
) -> None:
    server.files[R20] = resnet20_weights.read_bytes()
    _cache(tmp_path).mkdir(parents=True)
    (_cache(tmp_path) / R20).write_bytes(b"not the published file")
    result = cli.invoke(app, ["export", "--arch", "resnet20"])
    line = _one_line_error(result, f"the cached file {_cache(tmp_path) / R20}")
    assert "does not match the published sha256" in line and "delete it" in line
    assert server.requests == [] and (_cache(tmp_path) / R20).read_bytes() == b"not the published file"


def test_weights_option_errors(server: FileServer, tmp_path: Path) -> None:
    _one_line_error(
        cli.invoke(app, ["export", "--arch", "resnet20", "--weights", "imagenet1k_v2"]),
        "resnet20 has no weight set 'imagenet1k_v2'; its sets: cifar10 (default), embedded",
    )
    _one_line_error(cli.invoke(app, ["export", "--arch", "plain20"]), "plain20 has no published weights")
    _one_line_error(cli.invoke(app, ["eval", "preact_resnet110", "--images", str(tmp_path)]), "--weights random")
    _one_line_error(cli.invoke(app, ["export", "--arch", "resnet20", "--weights", str(tmp_path)]), "is a folder")
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07\x12\x0cpytorch-onnx")  # an ONNX's first bytes
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)))
    for name in ("m.onnx", "noise.pt"):
        result = cli.invoke(app, ["export", "--arch", "resnet20", "--weights", str(tmp_path / name)])
        line = _one_line_error(result, "is not a PyTorch checkpoint")
        assert "needs code to load" not in line
    assert server.requests == []


def test_the_packaged_set_needs_no_download(server: FileServer, tmp_path: Path) -> None:
    result = cli.invoke(app, ["export", "--arch", "resnet20", "--weights", "embedded", "-o", str(tmp_path / "e.onnx")])
    assert result.exit_code == 0, result.output
    meta = read_metadata(load_onnx(tmp_path / "e.onnx", with_weights=False))
    assert meta.weight_set["name"] == "embedded" and server.requests == []


def test_a_sets_own_preprocessing_is_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FileServer
) -> None:
    """A V2-style set (resize 232 for a 224 crop) exports with its own transform, scaled to the size asked."""
    torch.manual_seed(1)
    state = registry.create_model("resnet18").state_dict()
    folder = tmp_path / "mirror"
    folder.mkdir()
    draft = folder / "draft.pth"
    torch.save(state, draft)
    digest = file_sha256(draft)
    name = f"resnet18-{digest[:8]}.pth"
    draft.rename(folder / name)
    card = registry.get_card("resnet18")
    v2_preprocess = dataclasses.replace(card.preprocess, resize=232)
    url = f"https://example.invalid/{name}"
    v2 = dataclasses.replace(card.weights[0], name="test_v2", url=url, sha256=digest[:8], preprocess=v2_preprocess)
    monkeypatch.setitem(registry._REGISTRY, "resnet18", dataclasses.replace(card, weights=(v2,)))
    monkeypatch.setenv(MIRROR_ENV, str(folder))  # a local folder works as a mirror too
    out = tmp_path / "r18.onnx"
    result = cli.invoke(app, ["export", "--arch", "resnet18", "--input-size", "64", "-o", str(out)])
    assert result.exit_code == 0, result.output
    meta = read_metadata(load_onnx(out, with_weights=False))
    assert (meta.preprocess.input_size, meta.preprocess.resize, meta.preprocess.interpolation) == (64, 66, "bilinear")
    assert meta.weight_set["name"] == "test_v2" and meta.label_ids[0] == "n01440764"
    assert (_cache(tmp_path) / name).is_file()


def test_random_resnet18_on_imagenet_folders(tmp_path: Path) -> None:
    """Synset folders (n01440764/...) are classes: all 100 real photos are scored, loudly random."""
    if not IMAGENET_SAMPLE.is_dir():
        pytest.skip(f"shared ImageNet photos missing at {IMAGENET_SAMPLE}")
    result = cli.invoke(app, ["eval", "resnet18", "--weights", "random", "--images", str(IMAGENET_SAMPLE),
                              "--batch-size", "25", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 100 and report["errors"] == 0
    assert "resnet18 has RANDOM weights" in result.output
    rows_path = tmp_path / "rows.csv"
    two = [str(IMAGENET_SAMPLE / "n01440764"), str(IMAGENET_SAMPLE / "n01530575")]
    infer = cli.invoke(app, ["infer", *two, "--engine", "resnet18", "--weights", "random", "--topk", "2"])
    assert infer.exit_code == 0 and "RANDOM weights" in infer.output
    rows = [json.loads(line) for line in infer.stdout.splitlines()]
    wnids = registry.get_card("resnet18").label_ids
    for row in rows:
        assert row["wnid"] == wnids[row["class_index"]] and row["label"]
        assert [t["wnid"] for t in row["topk"]] == [wnids[t["index"]] for t in row["topk"]]
    assert cli.invoke(app, ["infer", two[0], "--engine", "resnet18", "--weights", "random", "-o", str(rows_path)]
                      ).exit_code == 0  # fmt: skip
    header, row = rows_path.read_text().splitlines()
    assert header.split(",")[3:5] == ["label", "wnid"] and row.split(",")[4] == rows[0]["wnid"]


def test_random_weights_are_announced_by_check(tmp_path: Path) -> None:
    out = tmp_path / "r.onnx"
    assert cli.invoke(app, ["export", "--arch", "resnet20", "--weights", "random", "-o", str(out)]).exit_code == 0
    result = cli.invoke(app, ["check", str(out), "--num-images", "8"])
    assert result.exit_code == 0 and "RANDOM weights" in result.output, result.output
