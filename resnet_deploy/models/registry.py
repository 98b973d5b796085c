"""The one registry of architectures: every name maps to a model card and a builder.

A card is data: the network's configuration, input size, preprocessing, labels and the
reference numbers from the papers (or torchvision), which a registry-driven test recomputes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import UnknownModelError
from resnet_deploy.models.labels import CIFAR10_LABELS, generic_labels, imagenet_labels, imagenet_wnids
from resnet_deploy.models.weight_sets import WEIGHT_SETS, WeightSet

IMAGENET_WIDTHS = [64, 128, 256, 512]
CIFAR_WIDTHS = [16, 32, 64]
IMAGENET_ERR_NOTE = "ImageNet val top-1 error %, 10-crop (He et al. 2015, Tables 2-3)"
CIFAR_ERR_NOTE = "CIFAR-10 test error % (He et al. 2015, Table 6)"
PREACT_ERR_NOTE = "CIFAR-10 test error % (He et al. 2016, Table 3)"


@dataclass(frozen=True)
class ModelCard:
    name: str
    family: str  # "imagenet" or "cifar"
    config: dict[str, Any]  # keyword arguments of `ResNet`, without num_classes
    num_classes: int
    input_size: int
    preprocess: PreprocessSpec
    labels: tuple[str, ...] = field(repr=False)
    ref_params: int | None = None  # exact count to reproduce
    ref_params_rtol: float = 0.0
    ref_macs: float | None = None  # multiply-adds of conv + fc at `input_size`
    ref_macs_rtol: float = 0.005
    paper_error: float | None = None
    paper_error_note: str = ""
    reference: str = ""
    label_ids: tuple[str, ...] = field(default=(), repr=False)  # WordNet IDs of ImageNet's classes
    weights: tuple[WeightSet, ...] = ()  # published weight sets, best first (models/weight_sets.py)

    @property
    def default_weights(self) -> str | None:
        """The set used when `--weights` is not given: the best published one."""
        return self.weights[0].name if self.weights else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the label list)."""
        return {
            "name": self.name,
            "family": self.family,
            "num_classes": self.num_classes,
            "input_size": self.input_size,
            "preprocess": dataclasses.asdict(self.preprocess),
            "ref_params": self.ref_params,
            "ref_macs": self.ref_macs,
            "paper_error": self.paper_error,
            "paper_error_note": self.paper_error_note,
            "reference": self.reference,
            "config": self.config,
            "default_weights": self.default_weights,
            "weights": [weight_set.to_dict() for weight_set in self.weights],
        }


_REGISTRY: dict[str, ModelCard] = {}


def _register(card: ModelCard) -> None:
    _REGISTRY[card.name] = dataclasses.replace(card, weights=WEIGHT_SETS.get(card.name, ()))


def _imagenet(name: str, units: list[int], bottleneck: bool, **kwargs: Any) -> None:
    config = dict(
        stage_units=units,
        stage_widths=IMAGENET_WIDTHS,
        bottleneck=bottleneck,
        stem="imagenet",
        shortcut="B",
        residual=kwargs.pop("residual", True),
        stride_in_1x1=kwargs.pop("stride_in_1x1", False),
    )
    _register(
        ModelCard(
            name=name,
            family="imagenet",
            config=config,
            num_classes=1000,
            input_size=224,
            preprocess=PreprocessSpec.imagenet(224),
            labels=imagenet_labels(),
            label_ids=imagenet_wnids(),
            paper_error_note=IMAGENET_ERR_NOTE if kwargs.get("paper_error") else "",
            **kwargs,
        )
    )


def _cifar(name: str, n: int, *, bottleneck: bool = False, **kwargs: Any) -> None:
    config = dict(
        stage_units=[n, n, n],
        stage_widths=CIFAR_WIDTHS,
        bottleneck=bottleneck,
        stem="cifar",
        shortcut=kwargs.pop("shortcut", "A"),
        activation=kwargs.pop("activation", "original"),
        residual=kwargs.pop("residual", True),
    )
    _register(
        ModelCard(
            name=name,
            family="cifar",
            config=config,
            num_classes=10,
            input_size=32,
            preprocess=PreprocessSpec.cifar(32),
            labels=CIFAR10_LABELS,
            **kwargs,
        )
    )


# ImageNet ResNets in torchvision's layout ("v1.5": stride in the 3x3 conv of a bottleneck).
TV = "torchvision parameter count and GMACs"
_imagenet("resnet18", [2, 2, 2, 2], False, ref_params=11_689_512, ref_macs=1.814e9, paper_error=27.88, reference=TV)
_imagenet("resnet34", [3, 4, 6, 3], False, ref_params=21_797_672, ref_macs=3.664e9, paper_error=24.52, reference=TV)
_imagenet("resnet50", [3, 4, 6, 3], True, ref_params=25_557_032, ref_macs=4.089e9, paper_error=22.85, reference=TV)
_imagenet("resnet101", [3, 4, 23, 3], True, ref_params=44_549_160, ref_macs=7.801e9, paper_error=21.75, reference=TV)
_imagenet("resnet152", [3, 8, 36, 3], True, ref_params=60_192_808, ref_macs=11.514e9, paper_error=21.43, reference=TV)
# The paper's original placement: stride in the first 1x1 conv. MACs: the paper's Table 1.
PAPER = "He et al. 2015, Table 1 FLOPs (rounded; 3% tolerance)"
_V1 = ((50, [3, 4, 6, 3], 3.8, 22.85), (101, [3, 4, 23, 3], 7.6, 21.75), (152, [3, 8, 36, 3], 11.3, 21.43))
for _depth, _units, _gmacs, _err in _V1:
    _imagenet(
        f"resnet{_depth}_v1",
        _units,
        True,
        stride_in_1x1=True,
        ref_params=None,
        ref_macs=_gmacs * 1e9,
        ref_macs_rtol=0.03,
        paper_error=_err,
        reference=PAPER,
    )
# Plain nets: the same stacks without shortcuts. Params: torchvision's count minus its
# three downsample projections (173,824 parameters).
_imagenet(
    "plain18",
    [2, 2, 2, 2],
    False,
    residual=False,
    ref_params=11_515_688,
    ref_macs=1.8e9,
    ref_macs_rtol=0.03,
    paper_error=27.94,
    reference=PAPER,
)
_imagenet(
    "plain34",
    [3, 4, 6, 3],
    False,
    residual=False,
    ref_params=21_623_848,
    ref_macs=3.6e9,
    ref_macs_rtol=0.03,
    paper_error=28.54,
    reference=PAPER,
)

# CIFAR ResNets (6n+2 layers, option A); exact parameter counts of the reference code.
CIFAR_REF = "He et al. 2015, Table 6; exact counts of the option-A reference implementation"
for _depth, _params, _err in (
    (20, 269_722, 8.75),
    (32, 464_154, 7.51),
    (44, 658_586, 7.17),
    (56, 853_018, 6.97),
    (110, 1_727_962, 6.43),
    (1202, 19_421_274, 7.93),
):
    _cifar(
        f"resnet{_depth}",
        (_depth - 2) // 6,
        ref_params=_params,
        paper_error=_err,
        paper_error_note=CIFAR_ERR_NOTE,
        reference=CIFAR_REF,
    )
# Plain CIFAR nets: option-A shortcuts have no parameters, so the counts are the ResNets'.
for _depth, _params in ((20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018)):
    _cifar(f"plain{_depth}", (_depth - 2) // 6, residual=False, ref_params=_params, reference=CIFAR_REF)

# Pre-activation ResNets (2016): full pre-activation units; bottlenecks for 164 and 1001.
# Exactly 1,703,258 / 10,327,706 parameters (1x1 projection shortcuts without BN; tested).
PREACT_REF = "He et al. 2016 (paper rounds params: 1.7M, 10.2M; 2% tolerance)"
_cifar(
    "preact_resnet110",
    18,
    activation="full_preact",
    ref_params=1_727_962,
    paper_error=6.37,
    paper_error_note=PREACT_ERR_NOTE,
    reference=CIFAR_REF,
)
_cifar(
    "preact_resnet164",
    18,
    bottleneck=True,
    activation="full_preact",
    shortcut="B",
    ref_params=1_700_000,
    ref_params_rtol=0.02,
    paper_error=5.46,
    paper_error_note=PREACT_ERR_NOTE,
    reference=PREACT_REF,
)
_cifar(
    "preact_resnet1001",
    111,
    bottleneck=True,
    activation="full_preact",
    shortcut="B",
    ref_params=10_200_000,
    ref_params_rtol=0.02,
    paper_error=4.92,
    paper_error_note=PREACT_ERR_NOTE,
    reference=PREACT_REF,
)


def list_models() -> list[ModelCard]:
    return list(_REGISTRY.values())


def get_card(name: str, *, num_classes: int | None = None, input_size: int | None = None) -> ModelCard:
    """The card for `name`, adjusted for another number of classes or input size."""
    try:
        card = _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown architecture {name!r}; valid names: {', '.join(_REGISTRY)}") from None
    changes: dict[str, Any] = {}
    if num_classes is not None and num_classes != card.num_classes:
        if num_classes < 1:
            raise UnknownModelError(f"--num-classes must be at least 1, got {num_classes}")
        changes.update(
            num_classes=num_classes, labels=generic_labels(num_classes), label_ids=(), paper_error=None, weights=()
        )
    if input_size is not None and input_size != card.input_size:
        if input_size < 8:
            raise UnknownModelError(f"--input-size must be at least 8, got {input_size}")
        spec = PreprocessSpec.imagenet(input_size) if card.family == "imagenet" else PreprocessSpec.cifar(input_size)
        changes.update(input_size=input_size, preprocess=spec, ref_macs=None)
    return dataclasses.replace(card, **changes) if changes else card


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    shortcut: str | None = None,
    activation: str | None = None,
    variant: str | None = None,
):
    """Build the network `name` (random init).

    shortcut: the 2015 paper's option A/B/C; activation: the 2016 Fig. 4 placement;
    variant: the 2016 Fig. 2 shortcut combination. None keeps the card's choice.
    """
    from resnet_deploy.models.resnet import ResNet

    card = get_card(name, num_classes=num_classes)
    config = dict(card.config)
    overrides = {"shortcut": shortcut, "activation": activation, "variant": variant}
    config.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return ResNet(num_classes=card.num_classes, **config)
    except ValueError as exc:
        raise UnknownModelError(str(exc)) from None
