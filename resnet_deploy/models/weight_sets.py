"""Published weight sets: data beside each architecture's card, as torchvision's weight enums are.

A set says where its file comes from (URL and sha256, or the sha256 prefix carried in the file
name, as torch.hub's `check_hash` uses), under which license, how images must be preprocessed
and labelled for it, and the accuracy its publisher reports. Later steps read the set from an
artifact's metadata, never from here again.

Sources (copied, not computed):
- torchvision ImageNet sets: `torchvision/models/resnet.py` of torchvision 0.29.1
  (`ResNet*_Weights`: url, `acc@1`/`acc@5`, `ImageClassification(crop_size=224[, resize_size=232])`).
- CIFAR-10 sets: akamaster/pytorch_resnet_cifar10 README table and `pretrained_models/`
  (BSD 2-clause); full sha256 computed from the repository's files where they were available.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.models.labels import CIFAR10_LABELS, imagenet_labels, imagenet_wnids

RANDOM = "random"  # the `--weights` value that asks for seeded random init


@dataclass(frozen=True)
class WeightSet:
    name: str
    url: str | None  # None: a file shipped inside the package (`package_file`)
    sha256: str  # the full digest, or the prefix carried in the file name
    license: str
    source: str
    preprocess: PreprocessSpec
    labels: tuple[str, ...] = field(repr=False)
    label_ids: tuple[str, ...] = field(default=(), repr=False)  # WordNet IDs for ImageNet
    top1: float | None = None  # published accuracy, %
    top5: float | None = None
    accuracy_note: str = ""  # the data set and where the figure is published
    size_bytes: int | None = None
    package_file: str | None = None

    @property
    def file_name(self) -> str:
        return self.package_file if self.url is None else self.url.rsplit("/", 1)[-1]

    def matches(self, digest: str) -> bool:
        return digest.startswith(self.sha256)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["labels"], data["label_ids"]
        data["preprocess"] = dataclasses.asdict(self.preprocess)
        data["file_name"] = self.file_name
        return data


TV_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms of use apply"
TV_V1_NOTE = "ImageNet-1k val, torchvision (IMAGENET1K_V1, the original recipe)"
TV_V2_NOTE = "ImageNet-1k val, torchvision (IMAGENET1K_V2, the new recipe, torchvision issue 3995)"
TV_V1_PREPROCESS = PreprocessSpec(input_size=224, resize=256, interpolation="bilinear")
TV_V2_PREPROCESS = PreprocessSpec(input_size=224, resize=232, interpolation="bilinear")
AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
AKA_LICENSE = "BSD-2-Clause (akamaster/pytorch_resnet_cifar10)"
AKA_NOTE = "CIFAR-10 test set (lossless), 100 - the error in akamaster/pytorch_resnet_cifar10's README"


def _torchvision(version: int, file: str, top1: float, top5: float, mb: float) -> WeightSet:
    return WeightSet(
        name=f"imagenet1k_v{version}",
        url=f"https://download.pytorch.org/models/{file}.pth",
        sha256=file.rsplit("-", 1)[1],
        license=TV_LICENSE,
        source="torchvision (pytorch/vision models/resnet.py)",
        preprocess=TV_V1_PREPROCESS if version == 1 else TV_V2_PREPROCESS,
        labels=imagenet_labels(),
        label_ids=imagenet_wnids(),
        top1=top1,
        top5=top5,
        accuracy_note=TV_V1_NOTE if version == 1 else TV_V2_NOTE,
        size_bytes=round(mb * 1024 * 1024),  # torchvision's `_file_size` is in MiB
    )


def _akamaster(file: str, sha256: str, error: float, size: int | None) -> WeightSet:
    return WeightSet(
        name="cifar10",
        url=AKAMASTER + file,
        sha256=sha256,
        license=AKA_LICENSE,
        source="akamaster/pytorch_resnet_cifar10 (Yerlan Idelbayev)",
        preprocess=PreprocessSpec.cifar(32),
        labels=CIFAR10_LABELS,
        top1=round(100 - error, 2),
        accuracy_note=AKA_NOTE,
        size_bytes=size,
    )


EMBEDDED = WeightSet(
    name="embedded",
    url=None,
    package_file="resnet20_cifar10.pt",
    sha256="892d946c73edc902e9a7c8bdf2454278215b1f9b2a54a3d89e7a67e1bff2a374",
    license="MIT (resnet-deploy)",
    source="trained by resnet-deploy on 10,000 CIFAR-10 JPEGs (resnet_deploy/assets/MODEL_CARD.md)",
    preprocess=PreprocessSpec.cifar(32),
    labels=CIFAR10_LABELS,
    top1=73.69,
    top5=98.36,
    accuracy_note="the 10,000 shared CIFAR-10 test JPEGs (quality 75), measured by resnet-deploy",
)

# arch -> its sets, best first: the first is the default (what `--weights` means when omitted).
WEIGHT_SETS: dict[str, tuple[WeightSet, ...]] = {
    "resnet18": (_torchvision(1, "resnet18-f37072fd", 69.758, 89.078, 44.661),),
    "resnet34": (_torchvision(1, "resnet34-b627a593", 73.314, 91.420, 83.275),),
    "resnet50": (
        _torchvision(2, "resnet50-11ad3fa6", 80.858, 95.434, 97.79),
        _torchvision(1, "resnet50-0676ba61", 76.130, 92.862, 97.781),
    ),
    "resnet101": (
        _torchvision(2, "resnet101-cd907fc2", 81.886, 95.780, 170.53),
        _torchvision(1, "resnet101-63fe2227", 77.374, 93.546, 170.511),
    ),
    "resnet152": (
        _torchvision(2, "resnet152-f82ba261", 82.284, 96.002, 230.474),
        _torchvision(1, "resnet152-394f9c45", 78.312, 94.046, 230.434),
    ),
    # Full sha256 where the file was available to hash (20/32/44/56); the name's prefix otherwise.
    "resnet20": (
        _akamaster("resnet20-12fca82f.th", "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8",
                   8.27, 1_099_231),
        EMBEDDED,
    ),
    "resnet32": (
        _akamaster("resnet32-d509ac18.th", "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850",
                   7.37, 1_890_043),
    ),
    "resnet44": (
        _akamaster("resnet44-014dd654.th", "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4",
                   6.90, 2_680_855),
    ),
    "resnet56": (
        _akamaster("resnet56-4bfd9763.th", "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367",
                   6.61, 3_471_733),
    ),
    "resnet110": (_akamaster("resnet110-1d1ed7c2.th", "1d1ed7c2", 6.32, None),),
    "resnet1202": (_akamaster("resnet1202-f3b1deed.th", "f3b1deed", 6.18, None),),
}  # fmt: skip
