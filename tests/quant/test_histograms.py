"""The calibration methods as functions of a |x| histogram, on distributions with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resnet_deploy.quant.histograms import (
    NUM_BINS,
    TensorHistogram,
    entropy_threshold,
    load_histograms,
    percentile_threshold,
    save_histograms,
    tensor_range,
)


def _histogram(values: np.ndarray) -> TensorHistogram:
    counts, edges = np.histogram(np.abs(values), bins=NUM_BINS)
    return TensorHistogram(counts, edges, float(values.min()), float(values.max()))


def _relu_output(rng: np.random.Generator, outliers: int) -> np.ndarray:
    # Half exact zeros (what a ReLU makes), a half-normal body, and a few far outliers.
    body = np.abs(rng.standard_normal(200_000))
    return np.concatenate([np.zeros(200_000), body, rng.uniform(20, 40, outliers)])


def test_entropy_ignores_the_zero_spike_of_a_relu() -> None:
    # Without outliers no clipping is needed; keeping the zero bin would clip deep into the body
    # (what onnxruntime's entropy calibrator did to ResNet-20's ReLU outputs).
    values = _relu_output(np.random.default_rng(0), outliers=0)
    hist = _histogram(values)
    assert entropy_threshold(hist) >= 0.8 * values.max()
    clipped = np.mean(values > entropy_threshold(hist))
    assert clipped < 1e-4


def test_entropy_clips_rare_far_outliers() -> None:
    values = _relu_output(np.random.default_rng(1), outliers=20)
    threshold = entropy_threshold(_histogram(values))
    assert 3.0 < threshold < 15.0  # beyond the normal body (max about 4.5), well short of the outliers


def test_percentile_and_minmax_ranges() -> None:
    values = np.random.default_rng(2).uniform(-1.0, 3.0, 400_000)
    hist = _histogram(values)
    assert abs(percentile_threshold(hist, 99.0) - 2.96) < 0.01  # |x| is uniform on [0,1] x2 and [1,3]
    assert tensor_range(hist, "minmax", percentile=99.99, unsigned_levels=False) == (hist.low, hist.high)
    low, high = tensor_range(hist, "percentile", percentile=99.0, unsigned_levels=False)
    assert low == hist.low and abs(high - 2.96) < 0.01  # a threshold never widens past the true minimum


def test_cache_round_trip_and_a_damaged_file(tmp_path: Path) -> None:
    hist = _histogram(np.random.default_rng(3).standard_normal(1000))
    save_histograms(tmp_path / "h.npz", {"/conv1/Conv_output_0": hist})
    loaded = load_histograms(tmp_path / "h.npz")["/conv1/Conv_output_0"]
    assert np.array_equal(loaded.counts, hist.counts) and np.array_equal(loaded.edges, hist.edges)
    assert (loaded.low, loaded.high) == (hist.low, hist.high)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert load_histograms(tmp_path / "bad.npz") is None  # recollected, not a crash
