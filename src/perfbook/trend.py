"""Least-squares line through samples: the slope and how well a straight line explains them (R²).

Pure; the process rules use it to tell a steady RSS leak from noise.

    >>> fit = linear_fit([0, 1, 2, 3], [10, 12, 14, 16])
    >>> (fit.slope, fit.r2, fit.samples)
    (2.0, 1.0, 4)
    >>> linear_fit([0, 1, 2], [5, 5, 5]).r2   # flat: nothing for a line to explain
    0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LinearFit:
    """``y ≈ slope * x + intercept`` over ``samples`` points; ``r2`` in 0–1 (1 = all on the line)."""

    slope: float  # y units per x unit
    intercept: float  # y at x = 0
    r2: float  # coefficient of determination; 0 when y does not vary
    samples: int


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Ordinary least squares of ``ys`` on ``xs`` (equal lengths, at least 2 distinct xs).

    Raises ValueError when the line is undefined (fewer than 2 points, or every x the same).
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs and ys differ in length: {n} != {len(ys)}")
    if n < 2:
        raise ValueError(f"a line needs at least 2 samples, got {n}")
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("every sample has the same x")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - mean_y) ** 2 for y in ys)
    slope = sxy / sxx
    # R² of a simple regression is the squared correlation; a flat series explains nothing.
    r2 = 0.0 if syy == 0 else min(1.0, (sxy * sxy) / (sxx * syy))
    return LinearFit(slope=slope, intercept=mean_y - slope * mean_x, r2=r2, samples=n)
