"""Shared fixtures: the real data and weights in ../shared (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CIFAR_TEST = SHARED / "data" / "cifar10-jpeg" / "test"
CIFAR_TRAIN = SHARED / "data" / "cifar10-jpeg" / "train"
RESNET20_WEIGHTS = SHARED / "weights" / "resnet20-12fca82f.th"
RESNET20_JPEG_TOP1 = 0.8103  # 8,103 of 10,000: the float32 figure from shared/README.md


@pytest.fixture(scope="session")
def resnet20_weights() -> Path:
    if not RESNET20_WEIGHTS.is_file():
        pytest.skip(f"shared weights missing at {RESNET20_WEIGHTS}")
    return RESNET20_WEIGHTS


@pytest.fixture(scope="session")
def cifar_test() -> Path:
    if not CIFAR_TEST.is_dir():
        pytest.skip(f"shared CIFAR-10 JPEGs missing at {CIFAR_TEST}")
    return CIFAR_TEST


@pytest.fixture(scope="session")
def cifar_train() -> Path:
    if not CIFAR_TRAIN.is_dir():
        pytest.skip(f"shared CIFAR-10 JPEGs missing at {CIFAR_TRAIN}")
    return CIFAR_TRAIN
