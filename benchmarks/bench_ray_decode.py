"""Decode throughput of `infer --ray`: 1 vs 2 decode workers (Ray tasks) on this machine, side by side.

Full-size ImageNet photos (../shared/data/imagenet-sample, about 500x375, 110 KB), repeated to give
enough work, decoded, resized to 256 and centre-cropped to 224 by the pipeline's own decode stage
(`add_decode`), and counted on the driver. Rounds alternate 1 and 2 workers so drift in machine
load hits both alike. Two references without Ray run in the same rounds: decoding in this process
(one thread), and in 2 processes at Ray's worker priority (nice 15): the second says how much of
2 cores the machine really offered while the rounds ran.

Usage: .venv/bin/python benchmarks/bench_ray_decode.py [--images N] [--block 192] [--rounds 3]
Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.infer.ray_stages import add_decode, decode_pixels

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample" / "val"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=3072, help="photos decoded per round (the 100 repeated)")
    parser.add_argument("--block", type=int, default=192, help="inputs per block: one decode task (the default shard)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    photos = sorted(str(p) for p in PHOTOS.rglob("*.JPEG"))
    paths = [photos[i % len(photos)] for i in range(args.images)]
    spec = PreprocessSpec.imagenet()

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    blocks = [{"block": k, "paths": json.dumps(paths[at : at + args.block])} for k, at in
              enumerate(range(0, len(paths), args.block))]  # fmt: skip

    def ray_round(workers: int) -> float:
        source = ray.data.from_items(blocks, override_num_blocks=len(blocks))
        decoded = add_decode(ray, source, spec_json=spec.to_json(), block_size=args.block, decode_workers=workers)
        start = time.perf_counter()
        # Batches come zero-copy from the object store: no extra operator competes for the CPUs.
        batches = decoded.iter_batches(batch_size=None, batch_format="pyarrow")
        count = sum(len(json.loads(paths)) for batch in batches for paths in batch.column("paths").to_pylist())
        assert count == len(paths)
        return count / (time.perf_counter() - start)

    chunks = [paths[at : at + args.block] for at in range(0, len(paths), args.block)]

    def local_round() -> float:
        start = time.perf_counter()
        for chunk in chunks:
            decode_pixels(chunk, spec)
        return len(paths) / (time.perf_counter() - start)

    def processes_round(pool: ProcessPoolExecutor) -> float:
        start = time.perf_counter()
        list(pool.map(decode_pixels, chunks, [spec] * len(chunks)))
        return len(paths) / (time.perf_counter() - start)

    ray_round(2)  # warm-up: worker processes start, imports load
    names = ("in-process, 1 thread", "2 processes, nice 15", "ray, 1 decode worker", "ray, 2 decode workers")
    rates: dict[str, list[float]] = {name: [] for name in names}
    with ProcessPoolExecutor(2, initializer=os.nice, initargs=(15,)) as pool:
        processes_round(pool)  # warm-up
        for _ in range(args.rounds):
            rates["ray, 1 decode worker"].append(ray_round(1))
            rates["ray, 2 decode workers"].append(ray_round(2))
            rates["in-process, 1 thread"].append(local_round())
            rates["2 processes, nice 15"].append(processes_round(pool))
    ray.shutdown()
    print(f"{len(paths)} ImageNet photos per round ({len(photos)} distinct), blocks of {args.block}, 224 crops")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        print(f"{name:>24}: {rate:7.1f} img/s  (rounds: {', '.join(f'{v:.0f}' for v in rates[name])})")
    one, two, local = (medians[name] for name in ("ray, 1 decode worker", "ray, 2 decode workers", names[0]))
    print(
        f"2 vs 1 decode workers: {two / one:.2f}x (the machine offered {medians[names[1]] / local:.2f}x to 2 "
        f"processes); 1 Ray worker vs in-process: {one / local:.2f}x"
    )


if __name__ == "__main__":
    main()
