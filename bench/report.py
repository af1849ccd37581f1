"""Collecting figures and targets, and printing the summary table."""

from __future__ import annotations

import dataclasses
import statistics
import typing as t


@dataclasses.dataclass(frozen=True)
class Target:
    """One target: what it asks, what was measured, whether it was met."""

    name: str
    measured: str
    met: bool


@dataclasses.dataclass
class Report:
    """Everything one ``python -m bench`` run measured."""

    targets: list[Target] = dataclasses.field(default_factory=list)
    figures: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def target(self, name: str, measured: str, met: bool) -> None:
        self.targets.append(Target(name, measured, met))
        print(f"  target {name}: {measured}  {verdict(met)}")

    def figure(self, name: str, value: str) -> None:
        self.figures.append((name, value))
        print(f"  {name}: {value}")

    def print_summary(self) -> None:
        print()
        print("=" * 100)
        print("summary")
        print("=" * 100)
        width = max((len(name) for name, _ in self.figures), default=10)
        print("raw medians:")
        for name, value in self.figures:
            print(f"  {name:<{width}}  {value}")
        print()
        if not self.targets:
            print("no targets measured")
            return
        name_width = max(len(target.name) for target in self.targets)
        value_width = max(len(target.measured) for target in self.targets)
        print(f"  {'target':<{name_width}}  {'measured':<{value_width}}  result")
        print(f"  {'-' * name_width}  {'-' * value_width}  ------")
        for target in self.targets:
            print(
                f"  {target.name:<{name_width}}  {target.measured:<{value_width}}"
                f"  {verdict(target.met)}"
            )
        met = sum(target.met for target in self.targets)
        print(f"\n{met} of {len(self.targets)} targets met")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def median(values: t.Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: t.Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]
