"""Shared fixtures: the real data and weights in ../shared (read in place, never copied)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CIFAR_TEST = SHARED / "data" / "cifar10-jpeg" / "test"
CIFAR_TRAIN = SHARED / "data" / "cifar10-jpeg" / "train"
RESNET20_WEIGHTS = SHARED / "weights" / "resnet20-12fca82f.th"
RESNET20_JPEG_TOP1 = 0.8103  # 8,103 of 10,000: the float32 figure from shared/README.md


@pytest.fixture(scope="session", autouse=True)
def private_weights_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read or fill the user's torch hub cache, nor use a weights mirror set outside."""
    home = tmp_path_factory.mktemp("torch_home")
    saved = {key: os.environ.get(key) for key in ("TORCH_HOME", "RESNET_DEPLOY_WEIGHTS_MIRROR")}
    os.environ["TORCH_HOME"] = str(home)
    os.environ.pop("RESNET_DEPLOY_WEIGHTS_MIRROR", None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
