"""Candidates of the search, their scores against float32 and the budget, and the choice.

The choice is the fastest candidate within the budget. Where every candidate within the budget
has a measured speed, throughputs within `SPEED_TIE` of the fastest count as equal (timing noise;
graphs that differ only in their scales run at the same speed) and the most accurate of them
wins. Where speeds are unmeasured, precision decides: int8 < fp16 < fp32, and among int8 the
fewest layers kept in float, then the most accurate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PRECISION_ORDER = ("int8", "fp16", "fp32")
SPEED_TIE = 0.10


@dataclass
class Candidate:
    name: str
    precision: str
    path: Path
    method: str | None = None
    float_layers: tuple[str, ...] = ()  # PyTorch module paths kept in float (int8 candidates)
    correct: int = 0
    images: int = 0
    images_per_s: float | None = None  # None: unmeasured
    speed_how: str = ""
    loss_points: float = 0.0  # top-1 points lost against float32 (negative: gained)
    within_budget: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def top1(self) -> float:
        return self.correct / self.images if self.images else 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "precision": self.precision,
            "method": self.method,
            "float_layers": list(self.float_layers),
            "top1": self.top1,
            "correct": self.correct,
            "images": self.images,
            "loss_points": round(self.loss_points, 4),
            "images_per_s": round(self.images_per_s, 1) if self.images_per_s else None,
            "speed": self.speed_how,
            "within_budget": self.within_budget,
            "notes": self.notes,
        }


def score_against(candidate: Candidate, reference: Candidate, budget: float) -> None:
    """Loss in top-1 points against float32 on the same images; within the budget or not.

    Compared in whole images, so a budget of 0 admits exactly the candidates that lose none."""
    lost = reference.correct - candidate.correct
    candidate.loss_points = 100.0 * lost / candidate.images
    candidate.within_budget = 100.0 * lost <= budget * candidate.images


def _precision_rank(candidate: Candidate) -> tuple[int, int]:
    return PRECISION_ORDER.index(candidate.precision), len(candidate.float_layers)


def speeds_decide(candidates: list[Candidate]) -> bool:
    return all(c.images_per_s for c in candidates if c.within_budget)


def choose(candidates: list[Candidate]) -> Candidate:
    """The fastest within the budget (float32 always is)."""
    within = [c for c in candidates if c.within_budget]
    if speeds_decide(candidates):
        fastest = max(c.images_per_s for c in within)
        tied = [c for c in within if c.images_per_s >= fastest * (1 - SPEED_TIE)]
        return max(tied, key=lambda c: (c.correct, [-r for r in _precision_rank(c)], c.images_per_s))
    return min(within, key=lambda c: (*_precision_rank(c), -c.correct))
