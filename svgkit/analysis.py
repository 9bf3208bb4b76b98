"""Before and after: did training help, by how much (with its uncertainty), and what exactly changed.

Every function takes two lists of :class:`svgkit.scoring.ScoredAnswer` (what
:func:`svgkit.scoring.score_generations` returns): the answers *before* training and
*after*, to the same prompts, one or several samples per prompt. Answers are paired by their
``row_id`` (the prompt). The same functions run on a live holdout comparison and on the RFT
miniature; ``source`` names which, and every figure and table carries it in its title.

- :func:`compare` runs all of the below and returns a :class:`BeforeAfter`;
- :func:`paired_scores`: per-prompt mean reward before and after, the mean paired difference and
  its bootstrap confidence interval over prompts (:func:`bootstrap_mean_interval`);
- :func:`requirement_changes`: pass rates per requirement kind and per category, and the
  requirements that training fixed and broke;
- :func:`validity_counts`: no SVG, truncated, rejected, render failures, invalid scores, and each
  hack flag of the reward (blank, tiny drawing, requirements written as text);
- :func:`size_points`: answer length and SVG size against reward (a policy that grows its answers
  to please the judge shows here);
- :meth:`BeforeAfter.gallery_figure`: the biggest gains and regressions side by side, with verdicts.

Invalid scores (the machinery failed, not the answer) are left out of means and pass rates, as
Eval Protocol leaves them out of its mean; :func:`validity_counts` counts them.
"""

import io
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from .config import ANALYSIS
from .gallery import answer_png
from .judge import REQUIREMENT_KINDS, requirement_kind
from .plots import PlotFigure
from .rft.views import MarkdownView
from .stats import categorize
from .svg import extract_svg

if TYPE_CHECKING:
    from .scoring import ScoredAnswer

__all__ = [
    "VALIDITY_FLAGS",
    "BeforeAfter",
    "Interval",
    "PairedScores",
    "PassRate",
    "PromptChange",
    "PromptPair",
    "RequirementChanges",
    "RequirementFlip",
    "SizePoint",
    "ValidityCounts",
    "bootstrap_mean_interval",
    "compare",
    "histogram_figure",
    "paired_scores",
    "requirement_changes",
    "shared_bins",
    "size_figure",
    "size_points",
    "spearman",
    "validity_counts",
]


# --------------------------------------------------------------------------- small helpers
def _table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A Markdown table; ``align`` has one ``l``/``r`` per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _signed(value: float | None, digits: int = 0, percent: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value * 100:+.{digits}f} pp" if percent else f"{value:+.{digits}f}"


def _valid(answers: Sequence["ScoredAnswer"]) -> list["ScoredAnswer"]:
    return [a for a in answers if a.result.is_score_valid]


def _by_prompt(answers: Sequence["ScoredAnswer"]) -> dict[str, list["ScoredAnswer"]]:
    out: dict[str, list[ScoredAnswer]] = defaultdict(list)
    for a in answers:
        out[a.row_id].append(a)
    return out


def _category(answer: "ScoredAnswer", categories: Mapping[str, str] | None) -> str:
    if categories and answer.row_id in categories:
        return categories[answer.row_id]
    return categorize(answer.prompt).category


# --------------------------------------------------------------------------- the bootstrap
@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap confidence interval of a mean.

    Attributes:
        estimate: The mean of the values.
        low: Lower end.
        high: Upper end.
        confidence: Its nominal coverage (0.95: a 95% interval).
        resamples: Bootstrap resamples drawn.
        n: How many values (prompts) it rests on.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int
    n: int

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.estimate:+.3f} ({self.confidence:.0%} CI {self.low:+.3f} to {self.high:+.3f}, n={self.n})"


def bootstrap_mean_interval(values: Sequence[float], *, confidence: float = ANALYSIS.confidence,
                            resamples: int = ANALYSIS.bootstrap_resamples,
                            seed: int = ANALYSIS.bootstrap_seed) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement).

    Deterministic for a seed. With one value the interval is that value (no spread to resample).

    Raises:
        ValueError: ``values`` is empty, or ``confidence`` is not between 0 and 1.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap: no prompt has a valid score before and after")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(data.mean()), float(low), float(high), confidence, resamples, int(data.size))


# --------------------------------------------------------------------------- paired scores
@dataclass(frozen=True)
class PromptPair:
    """One prompt's mean reward before and after (over its valid samples).

    Attributes:
        row_id: The prompt's row id.
        prompt: The prompt sentence.
        category: Its category.
        before: Mean reward before.
        after: Mean reward after.
        samples_before: Valid samples before.
        samples_after: Valid samples after.
    """

    row_id: str
    prompt: str
    category: str
    before: float
    after: float
    samples_before: int
    samples_after: int

    @property
    def difference(self) -> float:
        """after - before."""
        return self.after - self.before


@dataclass(frozen=True, repr=False)
class PairedScores(MarkdownView):
    """Per-prompt paired differences and the bootstrap interval of their mean.

    Attributes:
        source: What the comparison is of (shown in every title).
        pairs: One per prompt with a valid score on both sides.
        interval: Bootstrap interval of the mean difference (after - before).
        unpaired: Prompts left out: no valid score on one side.
    """

    source: str
    pairs: tuple[PromptPair, ...]
    interval: Interval
    unpaired: tuple[str, ...] = ()

    @property
    def mean_before(self) -> float:
        """Mean over prompts of the per-prompt mean reward before."""
        return float(np.mean([p.before for p in self.pairs]))

    @property
    def mean_after(self) -> float:
        """The same after."""
        return float(np.mean([p.after for p in self.pairs]))

    @property
    def counts(self) -> tuple[int, int, int]:
        """Prompts that got better, stayed the same, got worse."""
        d = [p.difference for p in self.pairs]
        return sum(x > 1e-12 for x in d), sum(abs(x) <= 1e-12 for x in d), sum(x < -1e-12 for x in d)

    def verdict(self) -> str:
        """One sentence: what the interval says."""
        i = self.interval
        if i.low > 0:
            return "After is better: the whole interval lies above zero."
        if i.high < 0:
            return "After is worse: the whole interval lies below zero."
        return "No clear difference: the interval includes zero (more prompts or samples would narrow it)."

    def _repr_markdown_(self) -> str:
        up, same, down = self.counts
        left = f" ({len(self.unpaired)} left out: no valid score on one side)" if self.unpaired else ""
        i = self.interval
        return "\n".join([
            f"**{self.source}**: {len(self.pairs)} prompts paired{left}.",
            "",
            _table(["", "mean reward"], [["before", f"{self.mean_before:.3f}"], ["after", f"{self.mean_after:.3f}"],
                                          ["after - before", f"{i.estimate:+.3f}"],
                                          [f"{i.confidence:.0%} bootstrap CI", f"{i.low:+.3f} to {i.high:+.3f}"]]),
            "",
            f"{up} prompts better, {same} unchanged, {down} worse. {self.verdict()} "
            f"(percentile bootstrap over prompts, {i.resamples:,} resamples.)",
        ])


def paired_scores(before: Sequence["ScoredAnswer"], after: Sequence["ScoredAnswer"], *, source: str,
                  categories: Mapping[str, str] | None = None, confidence: float = ANALYSIS.confidence,
                  resamples: int = ANALYSIS.bootstrap_resamples, seed: int = ANALYSIS.bootstrap_seed) -> PairedScores:
    """Pair answers by prompt, average each side's valid samples, and bootstrap the mean difference.

    Resampling is over prompts (the unit that varies), not over samples: several samples of one
    prompt are not independent evidence.

    Args:
        before: Answers before training.
        after: Answers after, to the same prompts (``row_id``).
        source: What this is (``"RFT miniature, training prompts"``, ``"holdout, live"``).
        categories: ``row_id`` -> category (default: :func:`svgkit.stats.categorize` of the prompt).
        confidence: Nominal coverage of the interval.
        resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Raises:
        ValueError: No prompt has a valid score on both sides.
    """
    b, a = _by_prompt(_valid(before)), _by_prompt(_valid(after))
    every = list(dict.fromkeys([x.row_id for x in before] + [x.row_id for x in after]))
    pairs, unpaired = [], []
    for rid in every:
        if rid not in b or rid not in a:
            unpaired.append(rid)
            continue
        first = b[rid][0]
        pairs.append(PromptPair(rid, first.prompt, _category(first, categories),
                                float(np.mean([x.score for x in b[rid]])), float(np.mean([x.score for x in a[rid]])),
                                len(b[rid]), len(a[rid])))
    interval = bootstrap_mean_interval([p.difference for p in pairs], confidence=confidence,
                                       resamples=resamples, seed=seed)
    return PairedScores(source, tuple(pairs), interval, tuple(unpaired))


def shared_bins(bins: int = ANALYSIS.histogram_bins) -> np.ndarray:
    """Bin edges over [0, 1] that both histograms use, so their bars line up."""
    return np.linspace(0.0, 1.0, bins + 1)


def histogram_figure(before: Sequence["ScoredAnswer"], after: Sequence["ScoredAnswer"], *, source: str,
                     bins: int = ANALYSIS.histogram_bins, paired: PairedScores | None = None) -> PlotFigure:
    """Overlaid histograms of the answers' rewards before and after, on shared bins; and, with
    ``paired``, the per-prompt differences with the bootstrap interval of their mean."""
    edges = shared_bins(bins)
    fig = PlotFigure(figsize=(12 if paired else 6.5, 3.8), layout="constrained")
    axes = fig.subplots(1, 2 if paired else 1, squeeze=False).ravel()
    ax = axes[0]
    for answers, label, colour in ((before, "before", "#8172B2"), (after, "after", "#55A868")):
        scores = [x.score for x in _valid(answers)]
        ax.hist(scores, bins=edges, alpha=0.55, color=colour, edgecolor="black", linewidth=0.4,
                label=f"{label} (n={len(scores)}, mean {np.mean(scores) if scores else 0:.2f})")
    ax.set(xlim=(0, 1), xlabel="reward (fulfilled / total)", ylabel="answers", title="Rewards, shared bins")
    ax.legend(fontsize=8)
    if paired is not None:
        ax2 = axes[1]
        diffs = [p.difference for p in paired.pairs]
        ax2.hist(diffs, bins=np.linspace(-1, 1, 2 * bins + 1), color="#4C72B0", edgecolor="black", linewidth=0.4)
        i = paired.interval
        ax2.axvspan(i.low, i.high, color="#C44E52", alpha=0.25, label=f"{i.confidence:.0%} CI of the mean")
        ax2.axvline(i.estimate, color="#C44E52", linewidth=2, label=f"mean {i.estimate:+.3f}")
        ax2.axvline(0, color="grey", linestyle="--", linewidth=1)
        ax2.set(xlim=(-1, 1), xlabel="after - before, per prompt", ylabel="prompts",
                title="Paired differences per prompt")
        ax2.legend(fontsize=8)
    fig.suptitle(source, fontsize=11)
    return fig


# --------------------------------------------------------------------------- requirements
@dataclass(frozen=True)
class PassRate:
    """Share of requirements fulfilled in one group (a requirement kind or a category).

    Attributes:
        group: The kind or category.
        checked_before: Requirement verdicts counted before (answers x requirements).
        checked_after: The same after.
        before: Share fulfilled before (``None``: none counted).
        after: Share fulfilled after.
    """

    group: str
    checked_before: int
    checked_after: int
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        """after - before (``None`` when a side has nothing counted)."""
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class RequirementFlip:
    """One requirement of one prompt whose pass rate crossed the threshold.

    Attributes:
        row_id: The prompt.
        index: The requirement's position (0-based).
        text: The requirement.
        kind: Its kind (:func:`svgkit.judge.requirement_kind`).
        before: Its pass rate over the samples before.
        after: After.
    """

    row_id: str
    index: int
    text: str
    kind: str
    before: float
    after: float


@dataclass(frozen=True, repr=False)
class RequirementChanges(MarkdownView):
    """What training fixed and broke, per requirement kind, per category and per requirement.

    Attributes:
        source: What the comparison is of.
        by_kind: Pass rates per requirement kind (:data:`svgkit.judge.REQUIREMENT_KINDS` order).
        by_category: Pass rates per category.
        fixed: Requirements whose pass rate rose across the threshold.
        broken: Requirements whose pass rate fell across it.
        threshold: The threshold (:attr:`svgkit.config.AnalysisConfig.fixed_threshold`).
    """

    source: str
    by_kind: tuple[PassRate, ...]
    by_category: tuple[PassRate, ...]
    fixed: tuple[RequirementFlip, ...]
    broken: tuple[RequirementFlip, ...]
    threshold: float

    @staticmethod
    def _rows(rates: Sequence[PassRate]) -> list[list[object]]:
        return [[r.group, r.checked_before, _rate(r.before), _rate(r.after), _signed(r.change)] for r in rates]

    def flips_table(self, which: Literal["fixed", "broken"], *, limit: int = 10) -> str:
        """Markdown: the fixed (or broken) requirements, largest change first."""
        flips = sorted(getattr(self, which), key=lambda f: -abs(f.after - f.before))[:limit]
        if not flips:
            return f"_No requirement {which}._"
        return _table(["prompt", "requirement", "kind", "before", "after"],
                      [[f.row_id, textwrap.shorten(f.text, 70), f.kind, _rate(f.before), _rate(f.after)]
                       for f in flips], "lllrr")

    def _repr_markdown_(self) -> str:
        head = ["", "verdicts", "before", "after", "change"]
        return "\n".join([
            f"**{self.source}**: share of requirements fulfilled (valid scores only).",
            "", "Per requirement kind:", "", _table(["kind", *head[1:]], self._rows(self.by_kind)),
            "", "Per category:", "", _table(["category", *head[1:]], self._rows(self.by_category)),
            "", f"Requirements **fixed** (pass rate rose across {self.threshold:.0%}): {len(self.fixed)}; "
            f"**broken** (fell across it): {len(self.broken)}.",
        ])

    def figure(self) -> PlotFigure:
        """Bars: pass rate before and after, per kind and per category."""
        fig = PlotFigure(figsize=(13, 3.8), layout="constrained")
        for ax, rates, name in zip(fig.subplots(1, 2), (self.by_kind, self.by_category),
                                   ("requirement kind", "category"), strict=True):
            shown = [r for r in rates if r.before is not None or r.after is not None]
            x = np.arange(len(shown))
            ax.bar(x - 0.2, [r.before or 0 for r in shown], 0.4, label="before", color="#8172B2")
            ax.bar(x + 0.2, [r.after or 0 for r in shown], 0.4, label="after", color="#55A868")
            ax.set_xticks(x, [r.group for r in shown], rotation=30, ha="right")
            ax.set(ylim=(0, 1), ylabel="share fulfilled", title=f"Pass rate per {name}")
            ax.legend(fontsize=8)
        fig.suptitle(self.source, fontsize=11)
        return fig


def _pass_counts(answers: Sequence["ScoredAnswer"], key: object) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in _valid(answers):
        for item in a.items:
            group = key(a, item)  # type: ignore[operator]
            counts[group][0] += int(item.fulfilled)
            counts[group][1] += 1
    return counts


def _rates(before: dict[str, list[int]], after: dict[str, list[int]], order: Sequence[str]) -> tuple[PassRate, ...]:
    groups = [g for g in order if g in before or g in after]
    groups += sorted((set(before) | set(after)) - set(groups))
    out = []
    for g in groups:
        fb, nb = before.get(g, [0, 0])
        fa, na = after.get(g, [0, 0])
        out.append(PassRate(g, nb, na, fb / nb if nb else None, fa / na if na else None))
    return tuple(out)


def requirement_changes(before: Sequence["ScoredAnswer"], after: Sequence["ScoredAnswer"], *, source: str,
                        categories: Mapping[str, str] | None = None,
                        threshold: float = ANALYSIS.fixed_threshold) -> RequirementChanges:
    """Pass rates per requirement kind and per category, and which requirements flipped.

    A requirement of a prompt is *fixed* when its pass rate over that prompt's samples was below
    ``threshold`` before and is at or above it after; *broken* the other way round.
    """
    kinds: dict[str, str] = {}

    def kind(_: "ScoredAnswer", item: object) -> str:
        text = item.text  # type: ignore[attr-defined]
        if text not in kinds:
            kinds[text] = requirement_kind(text)
        return kinds[text]

    def category(answer: "ScoredAnswer", _: object) -> str:
        return _category(answer, categories)

    def per_requirement(answers: Sequence["ScoredAnswer"]) -> dict[tuple[str, int], tuple[str, float]]:
        raw = _pass_counts(answers, lambda a, i: f"{a.row_id}\x00{i.index}\x00{i.text}")
        return {(k.split("\x00")[0], int(k.split("\x00")[1])): (k.split("\x00")[2], f / n) for k, (f, n) in raw.items()}

    by_kind = _rates(_pass_counts(before, kind), _pass_counts(after, kind), REQUIREMENT_KINDS)
    by_cat = _rates(_pass_counts(before, category), _pass_counts(after, category), ())
    rb, ra = per_requirement(before), per_requirement(after)
    fixed, broken = [], []
    for key in sorted(set(rb) & set(ra)):
        text, pb = rb[key]
        pa = ra[key][1]
        flip = RequirementFlip(key[0], key[1], text, kinds.get(text) or requirement_kind(text), pb, pa)
        if pb < threshold <= pa:
            fixed.append(flip)
        elif pa < threshold <= pb:
            broken.append(flip)
    return RequirementChanges(source, by_kind, by_cat, tuple(fixed), tuple(broken), threshold)


# --------------------------------------------------------------------------- validity and hack flags
#: What :func:`validity_counts` counts, with how a table names it.
VALIDITY_FLAGS: tuple[tuple[str, str], ...] = (
    ("no_answer", "no answer (generation failed)"),
    ("no_svg", "no SVG in the answer"),
    ("truncated", "truncated SVG"),
    ("rejected", "SVG rejected by the sanitiser"),
    ("render_failed", "render failed"),
    ("invalid", "invalid score (left out of the mean)"),
    ("hack_blank", "hack flag: blank picture"),
    ("hack_tiny_drawing", "hack flag: tiny drawing"),
    ("hack_text_only", "hack flag: requirements written as text"),
)


def _flags(answer: "ScoredAnswer") -> set[str]:
    metrics = answer.result.metrics or {}
    reason = answer.result.reason or ""
    out: set[str] = set()
    if answer.response is None:
        out.add("no_answer")
    elif reason.startswith("truncated"):
        out.add("truncated")
    elif "format_extracted" in metrics and metrics["format_extracted"].score < 1:
        out.add("no_svg")
    if reason.startswith("SVG rejected"):
        out.add("rejected")
    elif "format_rendered" in metrics and metrics["format_rendered"].score < 1:
        out.add("render_failed")
    if not answer.result.is_score_valid:
        out.add("invalid")
    for name in ("hack_blank", "hack_tiny_drawing", "hack_text_only"):
        if name in metrics and metrics[name].score > 0:
            out.add(name)
    return out


@dataclass(frozen=True, repr=False)
class ValidityCounts(MarkdownView):
    """How many answers before and after had each problem (:data:`VALIDITY_FLAGS`).

    Attributes:
        source: What the comparison is of.
        answers_before: Answers before.
        answers_after: Answers after.
        before: Flag -> answers with it, before.
        after: The same after.
    """

    source: str
    answers_before: int
    answers_after: int
    before: Mapping[str, int]
    after: Mapping[str, int]

    def share(self, flag: str, side: Literal["before", "after"]) -> float:
        """Share of that side's answers with ``flag``."""
        n = self.answers_before if side == "before" else self.answers_after
        return (self.before if side == "before" else self.after).get(flag, 0) / n if n else 0.0

    @property
    def hack_flags_rose(self) -> tuple[str, ...]:
        """Hack flags more frequent after than before: look at those answers before you trust the gain."""
        return tuple(f for f, _ in VALIDITY_FLAGS if f.startswith("hack_")
                     and self.share(f, "after") > self.share(f, "before"))

    def _repr_markdown_(self) -> str:
        rows = [[name, f"{self.before.get(f, 0)} ({self.share(f, 'before'):.0%})",
                 f"{self.after.get(f, 0)} ({self.share(f, 'after'):.0%})"] for f, name in VALIDITY_FLAGS]
        rose = self.hack_flags_rose
        note = (f"**Hack flags rose after training: {', '.join(rose)}.** The reward counts such requirements as "
                "unfulfilled, but a policy that learns to try them is probing the judge: look at those answers."
                if rose else "No hack flag is more frequent after training than before.")
        return "\n".join([f"**{self.source}**: answers with each problem "
                          f"({self.answers_before} before, {self.answers_after} after).", "",
                          _table(["", "before", "after"], rows), "", note])


def validity_counts(before: Sequence["ScoredAnswer"], after: Sequence["ScoredAnswer"], *,
                    source: str) -> ValidityCounts:
    """Count each validity problem and hack flag (:data:`VALIDITY_FLAGS`) before and after."""
    def count(answers: Sequence["ScoredAnswer"]) -> dict[str, int]:
        c = {f: 0 for f, _ in VALIDITY_FLAGS}
        for a in answers:
            for f in _flags(a):
                c[f] += 1
        return c

    return ValidityCounts(source, len(before), len(after), count(before), count(after))


# --------------------------------------------------------------------------- size against reward
@dataclass(frozen=True)
class SizePoint:
    """One answer's size and reward.

    Attributes:
        row_id: The prompt.
        answer_chars: Characters of the whole answer (prose, ``<think>`` and all).
        svg_bytes: Bytes of the extracted SVG (0: none).
        reward: Its reward.
    """

    row_id: str
    answer_chars: int
    svg_bytes: int
    reward: float


def size_points(answers: Sequence["ScoredAnswer"]) -> list[SizePoint]:
    """Answer length and SVG size of each answer with a valid score, with its reward."""
    out = []
    for a in _valid(answers):
        text = a.response or ""
        svg = extract_svg(text).svg
        out.append(SizePoint(a.row_id, len(text), len(svg.encode("utf-8")) if svg else 0, a.score))
    return out


def _ranks(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="mergesort")
    ranks = np.empty(data.size)
    ranks[order] = np.arange(1, data.size + 1)
    for value in np.unique(data):  # ties share their average rank
        tied = data == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties averaged); ``None`` with fewer than 3 points or no spread."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def size_figure(before: Sequence[SizePoint], after: Sequence[SizePoint], *, source: str) -> PlotFigure:
    """Answer length and SVG size against reward, before and after (log-scaled sizes)."""
    fig = PlotFigure(figsize=(12, 3.8), layout="constrained")
    for ax, attr, name in zip(fig.subplots(1, 2), ("answer_chars", "svg_bytes"),
                              ("answer length (characters)", "SVG size (bytes)"), strict=True):
        for points, label, colour in ((before, "before", "#8172B2"), (after, "after", "#55A868")):
            xs = [max(1, getattr(p, attr)) for p in points]
            rho = spearman(xs, [p.reward for p in points])
            ax.scatter(xs, [p.reward for p in points], alpha=0.6, color=colour, s=18,
                       label=f"{label}: median {np.median(xs) if xs else 0:,.0f}, "
                             f"Spearman {'–' if rho is None else f'{rho:+.2f}'}")
        ax.set_xscale("log")
        ax.set(xlabel=name, ylabel="reward", ylim=(-0.03, 1.03), title=f"Reward against {name}")
        ax.legend(fontsize=8)
    fig.suptitle(source, fontsize=11)
    return fig


# --------------------------------------------------------------------------- galleries
@dataclass(frozen=True)
class PromptChange:
    """One prompt of a gallery: its pair and a representative answer from each side.

    The representative is the sample whose reward is closest to that side's mean for the prompt.
    """

    pair: PromptPair
    before: "ScoredAnswer"
    after: "ScoredAnswer"


def _representative(answers: Sequence["ScoredAnswer"], mean: float) -> "ScoredAnswer":
    return min(answers, key=lambda a: (abs(a.score - mean), a.sample_index))


# --------------------------------------------------------------------------- all at once
@dataclass(frozen=True, repr=False)
class BeforeAfter(MarkdownView):
    """Every analysis of one before/after comparison (see :func:`compare`).

    Attributes:
        source: What the comparison is of (in every title).
        before: Answers before.
        after: Answers after.
        scores: Paired per-prompt differences and their interval.
        requirements: Pass rates per kind and category, fixed and broken requirements.
        validity: Validity problems and hack flags.
        sizes_before: Size and reward of each answer before.
        sizes_after: After.
    """

    source: str
    before: tuple["ScoredAnswer", ...]
    after: tuple["ScoredAnswer", ...]
    scores: PairedScores
    requirements: RequirementChanges
    validity: ValidityCounts
    sizes_before: tuple[SizePoint, ...]
    sizes_after: tuple[SizePoint, ...]

    def histogram_figure(self) -> PlotFigure:
        """Rewards on shared bins and the paired differences with their interval."""
        return histogram_figure(self.before, self.after, source=self.source, paired=self.scores)

    def size_figure(self) -> PlotFigure:
        """Answer length and SVG size against reward."""
        return size_figure(self.sizes_before, self.sizes_after, source=self.source)

    def size_summary(self) -> str:
        """Markdown: median sizes before and after, and their rank correlation with reward."""
        rows = []
        for attr, name in (("answer_chars", "answer length (characters)"), ("svg_bytes", "SVG size (bytes)")):
            cells: list[object] = [name]
            for points in (self.sizes_before, self.sizes_after):
                xs = [getattr(p, attr) for p in points]
                rho = spearman(xs, [p.reward for p in points])
                cells += [f"{np.median(xs) if xs else 0:,.0f}", "–" if rho is None else f"{rho:+.2f}"]
            rows.append(cells)
        return _table(["", "median before", "Spearman with reward", "median after", "Spearman with reward"], rows)

    def changes(self, which: Literal["gains", "regressions"], *,
                n: int = ANALYSIS.gallery_prompts) -> list[PromptChange]:
        """The ``n`` prompts whose mean reward rose (``gains``) or fell (``regressions``) most."""
        sign = 1 if which == "gains" else -1
        chosen = sorted((p for p in self.scores.pairs if sign * p.difference > 1e-12),
                        key=lambda p: (-sign * p.difference, p.row_id))[:n]
        b, a = _by_prompt(_valid(self.before)), _by_prompt(_valid(self.after))
        return [PromptChange(p, _representative(b[p.row_id], p.before), _representative(a[p.row_id], p.after))
                for p in chosen]

    def gallery_figure(self, which: Literal["gains", "regressions"], *,
                       n: int = ANALYSIS.gallery_prompts) -> PlotFigure:
        """Before and after side by side for the biggest gains (or regressions), with each
        requirement's verdict before → after (✓ fulfilled, ✗ not, ? undecided)."""
        from PIL import Image

        changes = self.changes(which, n=n)
        rows = max(1, len(changes))
        fig = PlotFigure(figsize=(13, 3.9 * rows), layout="constrained")
        axes = fig.subplots(rows, 3, squeeze=False, width_ratios=[1, 1, 1.6])
        if not changes:
            for ax in axes[0]:
                ax.axis("off")
            axes[0][1].text(0.5, 0.5, f"no prompt with {which}", ha="center", va="center", fontsize=12)
        for (ax_b, ax_a, ax_t), change in zip(axes, changes, strict=False):
            for ax, answer, side in ((ax_b, change.before, "before"), (ax_a, change.after, "after")):
                ax.set_xticks([])
                ax.set_yticks([])
                png = answer_png(answer)
                if png:
                    ax.imshow(Image.open(io.BytesIO(png)).convert("RGB"))
                else:
                    ax.text(0.5, 0.5, "nothing drawn", ha="center", va="center", color="#aa0000")
                ax.set_title(f"{side}: {answer.score:.2f} (prompt mean {getattr(change.pair, side):.2f})", fontsize=9)
            ax_t.axis("off")
            ax_t.text(0, 1, textwrap.fill(f"{change.pair.row_id}: {change.pair.prompt}", 80), fontsize=9,
                      weight="bold", va="top")
            y = 0.86
            after_items = {i.index: i for i in change.after.items}
            for item in change.before.items:
                new = after_items.get(item.index)
                marks = f"{_mark(item)}→{_mark(new) if new else '–'}"
                moved = new is not None and new.fulfilled != item.fulfilled
                colour = "black" if not moved else ("#1a7f37" if new is not None and new.fulfilled else "#b00000")
                ax_t.text(0, y, textwrap.shorten(f"{marks} {item.index + 1}. {item.text}", 100), fontsize=8,
                          va="top", color=colour)
                y -= 0.065
        title = "Biggest gains" if which == "gains" else "Biggest regressions"
        fig.suptitle(f"{title}: {self.source}", fontsize=11)
        return fig

    def summary(self) -> str:
        """Markdown: the headline numbers in three lines."""
        i = self.scores.interval
        return (f"**{self.source}**: mean reward {self.scores.mean_before:.3f} → {self.scores.mean_after:.3f}, "
                f"paired difference {i.estimate:+.3f} ({i.confidence:.0%} CI {i.low:+.3f} to {i.high:+.3f}, "
                f"{i.n} prompts). {self.scores.verdict()} Requirements fixed: {len(self.requirements.fixed)}, "
                f"broken: {len(self.requirements.broken)}. "
                + (f"Hack flags that rose: {', '.join(self.validity.hack_flags_rose)}."
                   if self.validity.hack_flags_rose else "No hack flag rose."))

    def _repr_markdown_(self) -> str:
        return self.summary()


def _mark(item: object) -> str:
    return "✓" if item.fulfilled else ("✗" if item.decided else "?")  # type: ignore[attr-defined]


def compare(before: Sequence["ScoredAnswer"], after: Sequence["ScoredAnswer"], *, source: str,
            categories: Mapping[str, str] | None = None, confidence: float = ANALYSIS.confidence,
            resamples: int = ANALYSIS.bootstrap_resamples, seed: int = ANALYSIS.bootstrap_seed) -> BeforeAfter:
    """Run every analysis of this module on one before/after pair of answer lists.

    Args:
        before: Answers before training (:func:`svgkit.scoring.score_generations`).
        after: Answers after, to the same prompts.
        source: What this is, shown in every title (say "miniature" when it is one).
        categories: ``row_id`` -> category (default: classified from the prompt).
        confidence: Nominal coverage of the bootstrap interval.
        resamples: Bootstrap resamples.
        seed: Seed of the resampling.
    """
    return BeforeAfter(
        source, tuple(before), tuple(after),
        paired_scores(before, after, source=source, categories=categories, confidence=confidence,
                      resamples=resamples, seed=seed),
        requirement_changes(before, after, source=source, categories=categories),
        validity_counts(before, after, source=source),
        tuple(size_points(before)), tuple(size_points(after)),
    )
