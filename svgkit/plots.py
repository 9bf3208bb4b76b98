"""Matplotlib figures for the notebooks. Each function returns a Figure; notebooks show it.

Figures are built with the object API (no global pyplot state), so they work the same in
JupyterLab, in nbconvert/nbval runs and in scripts.
"""

import io
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.colors import is_color_like
from matplotlib.figure import Figure

from .dataset import Example, Prompt
from .judge import COLOUR_WORDS
from .stats import CATEGORIES, PromptStats, TermCounts
from .training_log import TrainingLog, epoch_boundaries, moving_average

__all__ = [
    "ImageTile",
    "PlotFigure",
    "calibration_figure",
    "compare_runs_figure",
    "dataset_overview",
    "example_tiles",
    "example_tiles_figure",
    "image_grid",
    "term_bars",
    "training_curve_figure",
    "training_panels_figure",
]


class PlotFigure(Figure):
    """A matplotlib Figure that Jupyter shows as a PNG even without pyplot's inline backend."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
        return buffer.getvalue()


def dataset_overview(stats: Sequence[PromptStats], *, title: str = "") -> PlotFigure:
    """Three panels: requirements per prompt, estimated prompt tokens, prompts per category."""
    fig = PlotFigure(figsize=(13, 3.6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    counts = [s.n_requirements for s in stats]
    lo, hi = min(counts), max(counts)
    ax1.hist(counts, bins=range(lo, hi + 2), align="left", rwidth=0.85, color="#4C72B0")
    ax1.set(title="Requirements per prompt", xlabel="requirements", ylabel="prompts")
    ax1.set_xticks(range(lo, hi + 1))
    ax2.hist([s.est_prompt_tokens for s in stats], bins=12, color="#55A868", rwidth=0.9)
    ax2.set(title="Prompt size (estimated tokens)", xlabel="tokens (chars / 4)", ylabel="prompts")
    by_cat = Counter(s.category for s in stats)
    cats = [c for c in CATEGORIES if c in by_cat] + sorted(set(by_cat) - set(CATEGORIES))
    bars = ax3.bar(cats, [by_cat[c] for c in cats], color="#C44E52")
    ax3.bar_label(bars)
    ax3.set(title="Prompts per category", ylabel="prompts")
    if title:
        fig.suptitle(title)
    return fig


def _bar_colour(word: str) -> str:
    """The colour a colour word's bar is drawn in: itself, or its pixel colour class ("wooden" -> brown)."""
    if word == "golden":
        return "gold"
    return word if is_color_like(word) else COLOUR_WORDS.get(word, ("#777777",))[0]


def term_bars(terms: TermCounts, *, top: int = 10) -> PlotFigure:
    """The most frequent colour, shape and spatial words in the requirements."""
    fig = PlotFigure(figsize=(13, 3.6), layout="constrained")
    panels = [("Colours", terms.colours), ("Shapes", terms.shapes), ("Spatial words", terms.spatial)]
    for ax, (name, counter) in zip(fig.subplots(1, 3), panels, strict=True):
        items = counter.most_common(top)[::-1]
        colours = [_bar_colour(w) if name == "Colours" else "#777777" for w, _ in items]
        ax.barh([w for w, _ in items], [n for _, n in items], color=colours, edgecolor="black", linewidth=0.4)
        ax.set(title=f"{name} in requirements", xlabel="mentions")
    return fig


@dataclass(frozen=True)
class ImageTile:
    """One tile of an :func:`image_grid`: a PNG (or ``None`` for "nothing drawn") and text."""

    png: bytes | None
    title: str
    caption: str = ""


def image_grid(tiles: Sequence[ImageTile], *, columns: int = 3, tile_size: float = 4.0,
               caption_width: int = 48) -> PlotFigure:
    """Lay out rendered pictures with titles and wrapped captions (static, works on GitHub)."""
    from PIL import Image

    rows = max(1, -(-len(tiles) // columns))
    fig = PlotFigure(figsize=(columns * tile_size, rows * (tile_size + 1.2)), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, tile in zip(axes, tiles, strict=False):
        ax.set_xticks([])
        ax.set_yticks([])
        if tile.png:
            ax.imshow(Image.open(io.BytesIO(tile.png)).convert("RGB"))
        else:
            ax.text(0.5, 0.5, "nothing drawn", ha="center", va="center", color="#aa0000", fontsize=12)
        ax.set_title(textwrap.fill(tile.title, caption_width), fontsize=9)
        if tile.caption:
            ax.set_xlabel(textwrap.fill(tile.caption, caption_width), fontsize=8)
    for ax in axes[len(tiles):]:
        ax.axis("off")
    return fig


def example_tiles(examples: Sequence[Example], *, progress: bool = False) -> list[ImageTile]:
    """Render bundled example responses (safely) into tiles captioned with their labels."""
    from .render import render_many
    from .svg import extract_svg

    extractions = [extract_svg(ex.response) for ex in examples]
    results = render_many([e.svg if not e.truncated else None for e in extractions], progress=progress)
    tiles = []
    for ex, extraction, result in zip(examples, extractions, results, strict=True):
        faults = ", ".join(ex.faults) or "no deliberate fault"
        met = sum(ex.labels)
        if extraction.truncated:
            how = "truncated SVG (never closed)"
        elif extraction.svg is None:
            how = "no SVG found"
        else:
            how = "drawn" if result.ok else f"not drawn: {result.error}"
        tiles.append(ImageTile(result.png if result.ok else None, f"{ex.example_id} ({ex.quality}): {faults}",
                               f"{how}; labelled {met}/{len(ex.labels)} requirements met"))
    return tiles


def example_tiles_figure(examples: Sequence[Example], prompt: Prompt, *, columns: int = 3) -> PlotFigure:
    """The example answers to one prompt, rendered side by side with their labels."""
    fig = image_grid(example_tiles([ex for ex in examples if ex.prompt_id == prompt.id]), columns=columns)
    fig.suptitle(textwrap.shorten(prompt.prompt, 110), fontsize=11)
    return fig


def calibration_figure(report: Any) -> PlotFigure:
    """Judge vs hand-made labels: confusion matrix, and each answer's score against its labels' score."""
    fig = PlotFigure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.4])
    c = report.confusion
    matrix = [[c["tp"], c["fn"]], [c["fp"], c["tn"]]]
    ax1.imshow(matrix, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax1.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=14,
                     color="white" if matrix[i][j] > max(map(max, matrix)) / 2 else "black")
    ax1.set_xticks([0, 1], ["judge: yes", "judge: no"])
    ax1.set_yticks([0, 1], ["label: yes", "label: no"])
    ax1.set_title(f"{report.judge}: accuracy {report.accuracy:.2f}, kappa {report.kappa:.2f}")
    valid = [e for e in report.examples if e.valid]
    ax2.scatter([e.labelled for e in valid], [e.predicted for e in valid], alpha=0.6, color="#4C72B0")
    ax2.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax2.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), xlabel="score from hand-made labels",
            ylabel="score from the judge",
            title=f"per answer: mean abs. error {report.score_mae:.2f}, bias {report.score_bias:+.2f}")
    return fig


# --------------------------------------------------------------------------- training curves
#: Axis labels of the training-table columns (:mod:`svgkit.training_log`).
_COLUMN_LABELS = {
    "reward_mean": "reward (mean of the step's samples)",
    "reward_std": "reward spread (std of the step's samples)",
    "zero_spread_share": "share of groups with zero spread",
    "kl_to_start": "KL to the starting policy (nats)",
    "entropy": "policy entropy (nats)",
    "extra.paste_share": "policy weight on answers pasting the requirements",
}
_MINIATURE_NOTE = "miniature: a bandit over fixed answers, not a language model"


def _column_label(column: str) -> str:
    if column.startswith("pass_rate."):
        return f"pass rate: {column.split('.', 1)[1]} requirements"
    return _COLUMN_LABELS.get(column, column)


def _window(n: int, window: int | None) -> int:
    return window if window is not None else max(1, n // 8)


def _draw_curve(ax: Any, log: TrainingLog, column: str, *, window: int | None, colour: str,
                label: str | None = None, marks: bool = True) -> None:
    pts = [(s.step, v) for s, v in zip(log.steps, log.column(column), strict=True) if v is not None]
    if not pts:
        ax.text(0.5, 0.5, f"no {column} in this log", ha="center", va="center", transform=ax.transAxes,
                color="#888888")
        return
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    w = _window(len(ys), window)
    ax.plot(xs, ys, color=colour, alpha=0.35, linewidth=1, marker="o", markersize=2,
            label=None if w > 1 else label)
    if w > 1:
        smooth = moving_average(ys, w)
        ax.plot(xs, smooth, color=colour, linewidth=2,
                label=f"{label}, {w}-step moving average" if label else f"{w}-step moving average")
    if marks:
        for i, x in enumerate(epoch_boundaries(log)):
            ax.axvline(x, color="#999999", linestyle=":", linewidth=0.8, label="epoch ends" if i == 0 else None)


def _with_note(title: str, logs: Sequence[TrainingLog]) -> str:
    return f"{title}\n({_MINIATURE_NOTE})" if any(log.is_miniature for log in logs) else title


def training_curve_figure(log: TrainingLog, *, column: str = "reward_mean", window: int | None = None,
                          title: str | None = None) -> PlotFigure:
    """One column of a training table against the step: raw points, a moving average, epoch marks.

    Works the same for the miniature and for a live job's converted metrics; a miniature's
    figure says that it is one.

    Args:
        log: The training table.
        column: A numeric column (``reward_mean``, ``kl_to_start``, ``pass_rate.text``, ...).
        window: Moving-average window in steps (default: an eighth of the steps).
        title: Figure title (default: from the column and the run).
    """
    fig = PlotFigure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.subplots()
    _draw_curve(ax, log, column, window=window, colour="#4C72B0", label=_column_label(column))
    ax.set(xlabel="training step", ylabel=_column_label(column))
    ax.set_title(_with_note(title or f"{_column_label(column)}: {log.run or log.source}", [log]), fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return fig


def training_panels_figure(log: TrainingLog, *, columns: Sequence[str] = ("reward_mean", "zero_spread_share",
                                                                          "kl_to_start"),
                           window: int | None = None, title: str | None = None) -> PlotFigure:
    """Several columns of one training table side by side (default: reward, zero spread, KL)."""
    fig = PlotFigure(figsize=(4.4 * len(columns), 3.4), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    colours = ("#4C72B0", "#C44E52", "#55A868", "#8172B2", "#CCB974")
    for k, (ax, column) in enumerate(zip(axes, columns, strict=True)):
        _draw_curve(ax, log, column, window=window, colour=colours[k % len(colours)])
        ax.set(xlabel="training step", title=_column_label(column))
        ax.title.set_fontsize(9)
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(_with_note(title or log.run or log.source, [log]), fontsize=10)
    return fig


def compare_runs_figure(logs: "dict[str, TrainingLog]", *, columns: Sequence[str] = ("reward_mean",
                                                                                    "extra.paste_share"),
                        window: int | None = None, title: str = "") -> PlotFigure:
    """Several runs on shared axes, one panel per column (the hack demonstration: guards off vs on).

    Args:
        logs: Label -> training table, drawn in that order.
        columns: Numeric columns, one panel each.
        window: Moving-average window in steps.
        title: Figure title.
    """
    fig = PlotFigure(figsize=(5.2 * len(columns), 3.6), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    colours = ("#C44E52", "#4C72B0", "#55A868", "#8172B2")
    for ax, column in zip(axes, columns, strict=True):
        for k, (label, log) in enumerate(logs.items()):
            _draw_curve(ax, log, column, window=window, colour=colours[k % len(colours)], label=label, marks=False)
        ax.set(xlabel="training step", title=_column_label(column))
        ax.title.set_fontsize(9)
        ax.legend(loc="best", fontsize=7)
    fig.suptitle(_with_note(title, list(logs.values())) if title else _with_note("", list(logs.values())).strip(),
                 fontsize=10)
    return fig
