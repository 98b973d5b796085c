"""Weight loading: the shared ResNet-20 scores its known accuracy; bad files fail clearly."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_deploy.data.folders import image_folder
from resnet_deploy.data.loader import iter_batches
from resnet_deploy.errors import WeightsError
from resnet_deploy.models import create_model, get_card
from resnet_deploy.models.weights import load_model
from tests.conftest import RESNET20_JPEG_TOP1


def test_shared_resnet20_scores_81_percent(resnet20_weights: Path, cifar_test: Path) -> None:
    model, checkpoint = load_model("resnet20", resnet20_weights)
    assert checkpoint is not None and checkpoint.sha256.startswith("12fca82f")
    data = image_folder(cifar_test)
    paths = [p for p, _ in data.samples]
    labels = np.array([label for _, label in data.samples])
    correct = 0
    with torch.inference_mode():
        for batch in iter_batches(paths, get_card("resnet20").preprocess, batch_size=500):
            assert not batch.errors
            predictions = model(torch.from_numpy(batch.inputs)).argmax(1).numpy()
            correct += int((predictions == labels[batch.indices]).sum())
    assert len(paths) == 10_000
    assert abs(correct / len(paths) - RESNET20_JPEG_TOP1) <= 0.002


def test_torchvision_format_state_dict_loads(tmp_path: Path) -> None:
    source = create_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model, _ = load_model("resnet18", path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), source.eval()(x))


def test_truncated_file(resnet20_weights: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.th"
    path.write_bytes(resnet20_weights.read_bytes()[:50_000])
    with pytest.raises(WeightsError, match="truncated or not a PyTorch weights file"):
        load_model("resnet20", path)


def test_file_for_another_arch_names_the_likely_one(resnet20_weights: Path) -> None:
    with pytest.raises(WeightsError, match=r"does not fit resnet56: 180 missing keys.*try --arch resnet20"):
        load_model("resnet56", resnet20_weights)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(1)}, "payload": _RunsCode()}, path, pickle_module=pickle)
    with pytest.raises(WeightsError, match="needs code to load.*refusing"):
        load_model("resnet20", path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_model("resnet20", tmp_path / "nope.th")
