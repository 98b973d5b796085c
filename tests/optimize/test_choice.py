"""The choice among scored candidates: the budget in whole images, speed ties, precision order."""

from __future__ import annotations

from pathlib import Path

from resnet_deploy.optimize.candidates import Candidate, choose, score_against


def _candidate(name: str, precision: str, correct: int, speed: float | None, floats: int = 0) -> Candidate:
    return Candidate(name, precision, Path(f"{name}.onnx"), correct=correct, images=1000, images_per_s=speed,
                     float_layers=tuple(f"layer{i}" for i in range(floats)))  # fmt: skip


def _scored(budget: float, *candidates: Candidate) -> list[Candidate]:
    for candidate in candidates:
        score_against(candidate, candidates[0], budget)
    return list(candidates)


def test_budget_is_counted_in_whole_images() -> None:
    fp32, lossy, even = (
        _candidate("fp32", "fp32", 810, 100),
        _candidate("a", "int8", 809, 300),
        _candidate("b", "int8", 810, 250),
    )
    _scored(0.0, fp32, lossy, even)
    assert not lossy.within_budget and even.within_budget and even.loss_points == 0.0
    assert choose([fp32, lossy, even]) is even  # budget 0: the fastest that loses no image
    _scored(0.1, fp32, lossy, even)  # 0.1 points of 1,000 images: one image
    assert lossy.within_budget and choose([fp32, lossy, even]) is lossy


def test_speeds_within_ten_percent_tie_and_the_more_accurate_wins() -> None:
    cands = _scored(1.0, _candidate("fp32", "fp32", 810, 100), _candidate("fast", "int8", 805, 300),
                    _candidate("close", "int8", 808, 280), _candidate("slower", "int8", 809, 200))  # fmt: skip
    assert choose(cands).name == "close"


def test_unmeasured_speed_ranks_by_precision_then_float_layers() -> None:
    cands = _scored(0.5, _candidate("fp32", "fp32", 810, None), _candidate("fp16", "fp16", 810, None),
                    _candidate("int8 mixed", "int8", 809, None, floats=2), _candidate("int8", "int8", 807, None),
                    _candidate("int8 lossy", "int8", 800, None))  # fmt: skip
    assert choose(cands).name == "int8"  # within budget (0.3 points), no float layers
    cands[3].correct = 804  # now 0.6 points lost: the mixed one is the lowest precision within budget
    _scored(0.5, *cands)
    assert choose(cands).name == "int8 mixed"
