"""Object storage, streamed listings and shards, without Ray: a local S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import ImageDataError
from resnet_deploy.infer import storage
from resnet_deploy.infer.listing import iter_inputs
from resnet_deploy.infer.ray_stages import decode_pixels
from resnet_deploy.infer.shards import (
    ShardLayout,
    default_shard_size,
    is_sharded_output,
    read_shard,
    write_listing,
)
from resnet_deploy.infer.sources import expand_inputs

cli = CliRunner()


@pytest.fixture
def tree(cifar_test: Path, tmp_path: Path) -> Path:
    """A small nested tree with a hidden file, names that sort differently as paths and as strings."""
    root = tmp_path / "tree"
    for relative in ["a/1.jpg", "a.jpg", "a/b/2.jpg", "a-b/3.jpg", "z.jpg", ".hidden/4.jpg", "a/.x.jpg"]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes((cifar_test / "cat" / "0000.jpg").read_bytes())
    return root


def test_s3_listing_matches_local_order_and_is_streamed(s3, tree: Path) -> None:
    s3.put_files([(f"s3://bkt/tree/{p.relative_to(tree)}", p) for p in tree.rglob("*") if p.is_file()])
    local = [str(p.relative_to(tree)) for p in expand_inputs([str(tree)])]
    listed = list(storage.walk("s3://bkt/tree/"))
    assert [uri.removeprefix("s3://bkt/tree/") for uri in listed] == local  # sorted, hidden names skipped
    assert local == ["a/1.jpg", "a/b/2.jpg", "a-b/3.jpg", "a.jpg", "z.jpg"]
    s3.put("s3://bkt/lists/uris.txt", b"# a comment\ns3://bkt/tree/z.jpg\n\ns3://bkt/missing.jpg\ns3://bkt/tree/a/\n")
    got = list(iter_inputs(["s3://bkt/tree/a.jpg", "@s3://bkt/lists/uris.txt"]))
    assert got == ["s3://bkt/tree/a.jpg", "s3://bkt/tree/z.jpg", "s3://bkt/missing.jpg", "s3://bkt/tree/a/1.jpg",
                   "s3://bkt/tree/a/b/2.jpg"]  # fmt: skip
    with pytest.raises(ImageDataError, match="no such object or prefix"):
        list(iter_inputs(["s3://bkt/nothing-here/"]))


def test_objects_decode_like_files_and_missing_ones_give_reasons(s3, tree: Path, tmp_path: Path) -> None:
    spec = PreprocessSpec.cifar()
    s3.put("s3://bkt/one.jpg", (tree / "z.jpg").read_bytes())
    s3.put("s3://bkt/corrupt.jpg", b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    s3.put("s3://bkt/empty.jpg", b"")
    pixels, errors = decode_pixels(
        ["s3://bkt/one.jpg", "s3://bkt/missing.jpg", "s3://bkt/corrupt.jpg", "s3://bkt/empty.jpg", str(tree / "z.jpg")],
        spec,
    )
    assert errors[0] == errors[4] == ""
    assert errors[1] == "object not found"
    assert errors[2].startswith("corrupt image") or errors[2].startswith("not an image")
    assert errors[3] == "empty file (0 bytes)"
    assert np.array_equal(pixels[0], pixels[4]) and pixels[0].std() > 10  # the same real image
    storage.write_bytes("s3://bkt/out/x.txt", b"hello\n")
    assert storage.read_bytes("s3://bkt/out/x.txt") == b"hello\n" and storage.kind("s3://bkt/out/") == "dir"


def test_a_million_inputs_are_listed_with_flat_memory(tmp_path: Path) -> None:
    listing = tmp_path / "million.txt"
    with open(listing, "w") as handle:
        handle.writelines(f"s3://bucket/images/{i:07d}.jpg\n" for i in range(1_000_000))
    layout = ShardLayout(str(tmp_path / "out"), shard_size=4096)
    tracemalloc.start()
    try:
        count = write_listing(layout, iter_inputs([f"@{listing}"]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 1_000_000
    assert peak < 16 << 20, f"listing held {peak / 2**20:.0f} MiB"  # the whole list as Python strings: ~100 MiB
    assert len(list((tmp_path / "out" / "_inputs").iterdir())) == 123  # 8,192 inputs per listing file
    assert layout.block_paths(244) == [f"s3://bucket/images/{i:07d}.jpg" for i in range(244 * 4096, 1_000_000)]


def test_only_a_complete_shard_counts_as_done(tmp_path: Path) -> None:
    layout = ShardLayout(str(tmp_path), shard_size=3)
    paths = ["a.jpg", "b.jpg", "c.jpg"]
    rows = [{"path": p, "status": "ok" if p != "b.jpg" else "error"} for p in paths]
    text = "".join(json.dumps(row) + "\n" for row in rows)
    assert read_shard(layout, 0, paths) is None  # missing
    for torn in (text[:-1], text[: len(text) // 2], text.replace("b.jpg", "x.jpg"), text + text):
        Path(layout.shard(0)).write_text(torn)
        assert read_shard(layout, 0, paths) is None, torn
    Path(layout.shard(0)).write_text(text)
    assert read_shard(layout, 0, paths) == (2, 1)


def test_output_kinds_and_shard_sizes(tmp_path: Path) -> None:
    assert is_sharded_output("out/") and is_sharded_output(str(tmp_path)) and is_sharded_output("s3://b/results")
    assert not is_sharded_output(str(tmp_path / "rows.jsonl")) and not is_sharded_output("s3://b/rows.jsonl")
    assert default_shard_size(32, 64) == 4096  # CIFAR: capped
    assert default_shard_size(224, 64) == 192  # ImageNet: ~28 MiB of uint8 pixels, whole batches
    assert default_shard_size(224, 256) == 256  # never less than a batch


def test_cluster_options_need_ray(cifar_test: Path, tmp_path: Path) -> None:
    image = str(cifar_test / "cat" / "0000.jpg")
    cases = [
        ([image, "--engine", "resnet20", "-o", f"{tmp_path}/shards/"], "add --ray local"),
        (["s3://bkt/x/", "--engine", "resnet20"], "object-storage inputs are read by Ray workers"),
        ([image, "--engine", "resnet20", "-o", "s3://bkt/rows.jsonl", "--ray", "local"], "prefix ending in /"),
        ([image, "--engine", "resnet20", "--shard-size", "8"], "--shard-size needs a sharded --output"),
    ]
    for args, message in cases:
        result = cli.invoke(app, ["infer", *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_unreachable_storage_is_a_one_line_error(s3, cifar_test: Path, resnet20_onnx: Path, tmp_path: Path) -> None:
    image = str(cifar_test / "cat" / "0000.jpg")
    engine = ["--engine", str(resnet20_onnx), "--ray", "local"]
    cases = [
        ([image, *engine, "-o", "s3://no-such-bucket/out/"], "--output s3://no-such-bucket/out/: "),
        (["s3://no-such-bucket/images/", *engine, "-o", f"{tmp_path}/out/"], "no-such-bucket/images/: no such"),
    ]
    for args, message in cases:
        result = cli.invoke(app, ["infer", *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output and result.output.strip().startswith("error: ")
