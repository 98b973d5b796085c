"""The published weight sets are data: their hashes, preprocessing, labels and defaults are checked
here, and ImageNet's label table against the real ImageNet photos in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.data.folders import image_folder, match_labels
from resnet_deploy.models.labels import imagenet_labels, imagenet_wnids
from resnet_deploy.models.registry import get_card, list_models
from resnet_deploy.models.weight_sets import EMBEDDED, WEIGHT_SETS
from resnet_deploy.models.weights import file_sha256
from tests.conftest import SHARED

IMAGENET_SAMPLE = SHARED / "data" / "imagenet-sample" / "val"
ALL_SETS = [(arch, weight_set) for arch, sets in WEIGHT_SETS.items() for weight_set in sets]


@pytest.mark.parametrize(("arch", "weight_set"), ALL_SETS, ids=[f"{a}-{s.name}" for a, s in ALL_SETS])
def test_set_fits_its_card(arch: str, weight_set) -> None:
    card = get_card(arch)
    assert weight_set in card.weights
    assert len(weight_set.labels) == card.num_classes
    assert weight_set.preprocess.input_size == card.input_size
    assert len(weight_set.sha256) in (8, 64) and int(weight_set.sha256, 16) >= 0
    if weight_set.url is not None:  # torch.hub's convention: the hash prefix is in the file name
        assert weight_set.file_name.rsplit(".", 1)[0].endswith("-" + weight_set.sha256[:8])
    assert 60 < weight_set.top1 < 100 and weight_set.license and weight_set.source and weight_set.accuracy_note


def test_defaults_are_the_best_published_sets() -> None:
    defaults = {card.name: card.default_weights for card in list_models()}
    assert {a: defaults[a] for a in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")} == {
        "resnet18": "imagenet1k_v1", "resnet34": "imagenet1k_v1", "resnet50": "imagenet1k_v2",
        "resnet101": "imagenet1k_v2", "resnet152": "imagenet1k_v2",
    }  # fmt: skip
    assert {defaults[f"resnet{d}"] for d in (20, 32, 44, 56, 110, 1202)} == {"cifar10"}
    no_sets = [name for name, default in defaults.items() if default is None]
    assert set(no_sets) == {"resnet50_v1", "resnet101_v1", "resnet152_v1", "plain18", "plain34", "plain20",
                            "plain32", "plain44", "plain56", "preact_resnet110", "preact_resnet164",
                            "preact_resnet1001"}  # fmt: skip
    for card in list_models():  # best first
        assert [s.top1 for s in card.weights] == sorted((s.top1 for s in card.weights), reverse=True)


def test_torchvision_transforms() -> None:
    """V1: Resize(256) + CenterCrop(224); V2: Resize(232) + CenterCrop(224); bilinear, ImageNet mean/std."""
    v1, v2 = (
        next(s for s in get_card("resnet50").weights if s.name == name) for name in ("imagenet1k_v1", "imagenet1k_v2")
    )
    assert (v1.preprocess.resize, v2.preprocess.resize) == (256, 232)
    assert v1.preprocess.input_size == v2.preprocess.input_size == 224
    assert v2.preprocess.interpolation == "bilinear" and v2.preprocess.channel_order == "RGB"
    assert v2.preprocess.at_size(64).resize == 66  # the crop ratio travels to other sizes
    assert (v1.top1, v2.top1, v2.url) == (76.130, 80.858, "https://download.pytorch.org/models/resnet50-11ad3fa6.pth")


def test_shared_resnet20_is_the_published_file(resnet20_weights: Path) -> None:
    published = get_card("resnet20").weights[0]
    assert published.name == "cifar10" and published.file_name == resnet20_weights.name
    assert file_sha256(resnet20_weights) == published.sha256  # the full digest, not only the prefix


def test_embedded_set_is_the_packaged_file() -> None:
    from resnet_deploy.demo import embedded_weights

    assert file_sha256(embedded_weights()) == EMBEDDED.sha256 and EMBEDDED.url is None


def test_imagenet_labels_and_wordnet_ids() -> None:
    names, wnids = imagenet_labels(), imagenet_wnids()
    assert len(set(names)) == len(set(wnids)) == 1000  # torchvision's names are unique ("crane bird")
    assert list(wnids) == sorted(wnids)  # torchvision's class order is ImageFolder's sorted synsets
    assert (names[0], wnids[0], names[134], names[517]) == ("tench", "n01440764", "crane bird", "crane")
    assert get_card("resnet18").label_ids == wnids and get_card("resnet20").label_ids == ()


def test_imagenet_sample_folders_map_to_their_classes() -> None:
    if not IMAGENET_SAMPLE.is_dir():
        pytest.skip(f"shared ImageNet photos missing at {IMAGENET_SAMPLE}")
    data = image_folder(IMAGENET_SAMPLE)
    card = get_card("resnet18")
    indices = match_labels(data.classes, card.labels, card.label_ids)
    assert data.classes[0] == "n01440764" and indices[0] == 0
    assert indices == list(range(0, 1000, 10))  # every tenth class, as shared/README.md says
    for (path, folder_index), index in zip(data.samples, [indices[i] for _, i in data.samples], strict=True):
        # The photos are named <wnid>_<class name>: our name for that index is the same class.
        assert path.stem.split("_", 1)[1].replace("_", " ").lower() == card.labels[index].lower(), path
        assert folder_index == index // 10
    assert match_labels(("tench", "n01443537"), card.labels, card.label_ids) == [0, 1]  # names work too
