"""Registry-driven: every model builds, runs, and reproduces its card's params and MACs."""

from __future__ import annotations

import pytest
import torch

from resnet_deploy.errors import UnknownModelError
from resnet_deploy.models import create_model, get_card, list_models
from resnet_deploy.models.blocks import ACTIVATIONS, SHORTCUT_VARIANTS
from resnet_deploy.models.flops import count_params, model_complexity

HUGE = {"resnet1202", "preact_resnet1001"}
CARDS = [pytest.param(c.name, marks=pytest.mark.slow) if c.name in HUGE else c.name for c in list_models()]


@pytest.mark.parametrize("name", CARDS)
def test_forward_gives_logits_per_image(name: str) -> None:
    card = get_card(name)
    model = create_model(name)
    size = 64 if card.family == "imagenet" else (16 if name in HUGE else 32)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, card.num_classes)
        # At random init, eval-mode BN is the identity and 600 units overflow float32; with batch
        # statistics (training mode) every net must stay finite.
        assert torch.isfinite(model.train()(x)).all()


@pytest.mark.parametrize("name", [c.name for c in list_models()])
def test_counts_match_card(name: str) -> None:
    card = get_card(name)
    counts = model_complexity(name)
    assert card.ref_params is not None or card.ref_macs is not None, "every card carries a reference number"
    if card.ref_params is not None:
        assert counts["params"] == pytest.approx(card.ref_params, rel=card.ref_params_rtol, abs=0)
    if card.ref_macs is not None:
        assert counts["macs"] == pytest.approx(card.ref_macs, rel=card.ref_macs_rtol)
    assert counts["flops"] == 2 * counts["macs"]


def test_exact_reference_numbers() -> None:
    """The issue's figures, spelled out, so a card edit cannot silently move them."""
    tv = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
          "resnet101": 44_549_160, "resnet152": 60_192_808}  # fmt: skip
    for name, params in tv.items():
        assert model_complexity(name)["params"] == params
    gmacs = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801, "resnet152": 11.514}
    for name, value in gmacs.items():
        assert round(model_complexity(name)["macs"] / 1e9, 3) == value
    for name, paper in {"resnet50_v1": 3.8, "resnet101_v1": 7.6, "resnet152_v1": 11.3}.items():
        assert abs(model_complexity(name)["macs"] / 1e9 / paper - 1) < 0.03
    cifar = {"resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
             "resnet110": 1_727_962, "resnet1202": 19_421_274}  # fmt: skip
    for name, params in cifar.items():
        assert model_complexity(name)["params"] == params
    assert abs(model_complexity("preact_resnet164")["params"] / 1.7e6 - 1) < 0.02
    assert abs(model_complexity("preact_resnet1001")["params"] / 10.2e6 - 1) < 0.02
    for name, params in {"preact_resnet164": 1_703_258, "preact_resnet1001": 10_327_706}.items():
        assert model_complexity(name)["params"] == params == _preact_bottleneck_params((int(name[13:]) - 2) // 9)


def _preact_bottleneck_params(blocks: int) -> int:
    """2016 CIFAR pre-activation bottleneck net, counted by hand: 3x3 stem conv; three stages of
    `blocks` units BN-ReLU-1x1-BN-ReLU-3x3-BN-ReLU-1x1 (widths 16/32/64, x4 out), a bias-free 1x1
    projection (no BN) on each stage's first unit; final BN, 10-way fc. BN has 2 parameters a channel."""
    total = 3 * 16 * 9
    in_channels = 16
    for width in (16, 32, 64):
        out = 4 * width
        unit = 2 * width + 9 * width * width + 2 * width + width * out  # 1x1 in, 3x3, 1x1 out (+ their BNs)
        first = 2 * in_channels + in_channels * width + unit + in_channels * out  # + projection
        total += first + (blocks - 1) * (2 * out + out * width + unit)
        in_channels = out
    return total + 2 * 256 + 256 * 10 + 10


def test_v1_and_torchvision_layouts_differ_only_in_stride_placement() -> None:
    v15, v1 = create_model("resnet50"), create_model("resnet50_v1")
    assert count_params(v15) == count_params(v1)
    assert v15.layer2[0].conv2.stride == (2, 2) and v15.layer2[0].conv1.stride == (1, 1)
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)


def test_shortcut_options_a_b_c() -> None:
    a, b, c = (model_complexity("resnet34", shortcut=s)["params"] for s in "ABC")
    assert a == 21_623_848  # option A is parameter-free: resnet34 minus its 3 projections
    assert b == 21_797_672  # torchvision's resnet34 is option B
    assert c > b
    for option in "ABC":
        model = create_model("resnet18", shortcut=option).eval()
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("variant", SHORTCUT_VARIANTS)
def test_every_unit_variant_runs(activation: str, variant: str) -> None:
    model = create_model("resnet20", activation=activation, variant=variant).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_variants_change_the_function() -> None:
    """A variant is not a no-op: with the same weights, (a) and (c) placement give other logits."""
    torch.manual_seed(0)
    a = create_model("resnet20").eval()
    c = create_model("resnet20", activation="relu_before_add").eval()
    c.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(a(x), c(x))


def test_gating_adds_gate_parameters() -> None:
    base = model_complexity("resnet20")["params"]
    gated = model_complexity("resnet20", variant="exclusive_gating")["params"]
    # One 1x1 conv with bias per unit: 9 units.
    assert gated - base == sum(cin * cout + cout for cin, cout in
                               [(16, 16)] * 3 + [(16, 32)] + [(32, 32)] * 2 + [(32, 64)] + [(64, 64)] * 2)  # fmt: skip


def test_other_num_classes() -> None:
    model = create_model("resnet50", num_classes=7).eval()
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    card = get_card("resnet50", num_classes=7)
    assert card.labels == tuple(f"class_{i}" for i in range(7))


def test_cards_carry_preprocessing_and_labels() -> None:
    r50, r20 = get_card("resnet50"), get_card("resnet20")
    assert len(r50.labels) == 1000 and r50.labels[0] == "tench" and r50.labels[999] == "toilet tissue"
    assert r50.preprocess.resize == 256 and r50.preprocess.input_size == 224
    assert r20.labels[0] == "airplane" and len(r20.labels) == 10
    assert r20.preprocess.input_size == 32 and r20.preprocess.mean == (0.485, 0.456, 0.406)


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(UnknownModelError, match="valid names: .*resnet50.*preact_resnet1001"):
        create_model("resnet51")


def test_bad_option_is_a_user_error() -> None:
    with pytest.raises(UnknownModelError, match="--activation 'sideways' is not one of original, "):
        create_model("resnet20", activation="sideways")
