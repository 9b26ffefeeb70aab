"""Chart data sent compactly: no more points than pixels, numbers as precise as the axis shows,
and no timestamps at all (a chart's points sit on a regular grid that charts.js expands).

A 24 h function page has 1,440 one-minute buckets per line and some twenty lines; drawn into
charts about 1,000 px wide, most of those points fall on the same pixel. ``Downsampling``
groups neighbouring buckets so that a line has at most ``POINT_CAP`` points:

1. ``group`` buckets make one group (1 — no grouping — when the buckets already fit);
2. a line keeps each group's lowest and highest known value, in the order they happened,
   on two slots per group: a one-minute spike (or dip) survives at any range;
3. bars (counts per bucket) are summed per group, and their axis names the group's width.
   Bar groups are aligned to the range's end, so the newest group (where a reader looks first)
   is always whole; only the oldest may be short, and it sits where the range starts partway
   through it. A group sums its known buckets: the newest minute is never known yet, and
   nulling every group that holds one would blank the right edge;
4. a group with no known value is null: a gap, never a drop to 0.

Times never travel per point: a ``Grid`` is (start, slot width, slot count) and charts.js
turns it back into the x values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Sequence

POINT_CAP = 600  # points per line: about one per pixel of a wide chart
SIGNIFICANT = 3  # digits kept: tick labels show two or three, hover three


@dataclass(frozen=True)
class Grid:
    """``n`` evenly spaced x values from ``start``, ``step_ms`` apart."""

    start: datetime
    step_ms: int
    n: int

    def as_json(self) -> dict:
        epoch_ms = int(self.start.astimezone(UTC).timestamp() * 1000)
        return {"start": epoch_ms, "step": self.step_ms, "n": self.n}

    def times(self) -> list[datetime]:
        return [self.start + timedelta(milliseconds=i * self.step_ms) for i in range(self.n)]


@dataclass(frozen=True)
class Downsampling:
    """How one page's buckets (all its series share them) become chart points."""

    start: datetime
    step_s: int  # the selector's bucket
    buckets: int
    group: int  # buckets per group

    @classmethod
    def plan(cls, *, ts: Sequence[datetime], step_s: int, cap: int = POINT_CAP) -> "Downsampling":
        n = len(ts)
        start = ts[0] if ts else datetime(1970, 1, 1, tzinfo=UTC)
        group = 1 if n <= cap else math.ceil(n / (cap // 2))
        return cls(start=start, step_s=step_s, buckets=n, group=group)

    @property
    def groups(self) -> int:
        return math.ceil(self.buckets / self.group) if self.buckets else 0

    @property
    def bar_step_s(self) -> int:
        """The width of one bar: what "per …" means on a bar chart's axis."""
        return self.step_s * self.group

    @property
    def line_grid(self) -> Grid:
        if self.group == 1:
            return Grid(self.start, self.step_s * 1000, self.buckets)
        return Grid(self.start, self.step_s * self.group * 500, 2 * self.groups)

    @property
    def bar_grid(self) -> Grid:
        # Groups end where the range ends (step 3), so the first one starts `lead` buckets early.
        lead = self.groups * self.group - self.buckets
        return Grid(self.start - timedelta(seconds=lead * self.step_s), self.bar_step_s * 1000, self.groups)

    def _chunks(self, values: Sequence):
        for i in range(0, len(values), self.group):
            yield values[i : i + self.group]

    def line(self, values: Sequence[float | None]) -> list:
        """Each group's min and max in time order (step 2 of the module docstring)."""
        if self.group == 1:
            return rounded(values)
        out: list = []
        for chunk in self._chunks(values):
            known = [(i, v) for i, v in enumerate(chunk) if v is not None]
            if not known:
                out += [None, None]
                continue
            lo = min(known, key=lambda p: p[1])
            hi = max(known, key=lambda p: p[1])
            first, second = (lo, hi) if lo[0] <= hi[0] else (hi, lo)
            out += [first[1], second[1]]
        return rounded(out)

    def bars(self, values: Sequence[float | None]) -> list:
        """Each group's sum of its known buckets, groups aligned to the end (step 3 of the
        module docstring); null only when none of its buckets is known."""
        if self.group == 1:
            return rounded(values)
        head = len(values) % self.group
        chunks = [values[:head]] if head else []
        chunks += [values[i : i + self.group] for i in range(head, len(values), self.group)]
        out = []
        for chunk in chunks:
            known = [v for v in chunk if v is not None]
            out.append(sum(known) if known else None)
        return rounded(out)


def round_sig(value: float | None, digits: int = SIGNIFICANT) -> float | int | None:
    """``value`` to ``digits`` significant digits; whole numbers as ints (shorter JSON)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value == 0:
        return 0
    r = float(f"{value:.{digits}g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def rounded(values: Sequence[float | None], digits: int = SIGNIFICANT) -> list:
    return [round_sig(v, digits) for v in values]
