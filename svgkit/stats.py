"""Dataset statistics: requirement counts, lengths, categories, frequent visual terms.

SVGBench has no categories, so :func:`categorize` assigns one by transparent keyword rules
(:data:`CATEGORY_RULES`), checked in order against the prompt sentence: the first rule with
a matching keyword wins, and ``scene`` is the default. The rule that fired is returned, so a
notebook can show why each prompt landed where it did.
"""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .config import DATASET
from .dataset import Prompt, format_prompt
from .judge import COLOUR_WORDS

__all__ = [
    "CATEGORIES",
    "CATEGORY_RULES",
    "SHAPE_WORDS",
    "SPATIAL_WORDS",
    "Categorized",
    "PromptStats",
    "TermCounts",
    "categorize",
    "estimate_tokens",
    "prompt_stats",
    "term_counts",
]

#: SVGBench's prompt categories.
CATEGORIES: tuple[str, ...] = ("scene", "ui", "diagram", "icon", "chart")

#: (category, keywords) checked in this order; the first keyword found in the prompt (as whole
#: words, case-insensitive) decides.
CATEGORY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chart", ("chart", "bar graph", "line graph", "histogram", "scatter plot", "line plot")),
    ("ui", ("screen", "screenshot", "user interface", "ui", "app", "dashboard", "website", "web page",
            "webpage", "login", "form", "settings page", "interface", "widget", "menu bar")),
    ("diagram", ("diagram", "flowchart", "flow chart", "schematic", "architecture", "life cycle", "cycle",
                 "cross-section", "cross section", "cutaway", "blueprint", "infographic", "timeline",
                 "map of", "circuit", "network graph", "graph")),
    ("icon", ("icon", "logo", "emblem", "badge", "symbol", "favicon", "sticker", "crest", "monogram")),
)

#: Words counted as shapes.
SHAPE_WORDS: tuple[str, ...] = (
    "circle", "circular", "rectangle", "rectangular", "square", "triangle", "triangular", "oval", "ellipse",
    "line", "lines", "arc", "curve", "curved", "star", "polygon", "hexagon", "diamond", "cylinder", "cone",
    "arrow", "arrows", "dot", "dots", "stripe", "stripes", "spiral", "grid",
)
#: Words counted as spatial relations.
SPATIAL_WORDS: tuple[str, ...] = (
    "above", "below", "under", "over", "behind", "front", "left", "right", "top", "bottom", "center",
    "centre", "centered", "middle", "beside", "next", "between", "inside", "around", "background",
    "foreground", "corner", "edge", "near", "across",
)


@dataclass(frozen=True)
class Categorized:
    """A prompt's category and the keyword rule that assigned it (``None`` for the default)."""

    category: str
    keyword: str | None


def categorize(prompt: str) -> Categorized:
    """Classify a prompt sentence as scene / ui / diagram / icon / chart by keyword rules."""
    text = prompt.lower()
    for category, keywords in CATEGORY_RULES:
        for keyword in keywords:
            if re.search(rf"\b{re.escape(keyword)}\b", text):
                return Categorized(category, keyword)
    return Categorized("scene", None)


def estimate_tokens(text: str) -> int:
    """Rough token count (characters / 4), good enough for cost estimates; needs no tokenizer."""
    return max(1, round(len(text) / DATASET.chars_per_token))


@dataclass(frozen=True)
class PromptStats:
    """Per-prompt figures for plots and tables."""

    id: str
    category: str
    rule: str | None
    n_requirements: int
    prompt_chars: int
    requirement_words: int
    est_prompt_tokens: int


def prompt_stats(prompts: Sequence[Prompt]) -> list[PromptStats]:
    """Figures for each prompt; bundled prompts keep their own category, others are classified.

    ``est_prompt_tokens`` estimates the full formatted user message a model receives.
    """
    out = []
    for p in prompts:
        if p.category:
            cat = Categorized(p.category, "bundled label")
        else:
            cat = categorize(p.prompt)
        out.append(
            PromptStats(
                id=p.id,
                category=cat.category,
                rule=cat.keyword,
                n_requirements=len(p.requirements),
                prompt_chars=len(p.prompt),
                requirement_words=sum(len(r.split()) for r in p.requirements),
                est_prompt_tokens=estimate_tokens(format_prompt(p.prompt, p.requirements)),
            )
        )
    return out


@dataclass(frozen=True)
class TermCounts:
    """How often colour, shape and spatial words appear in requirements (whole words)."""

    colours: Counter[str]
    shapes: Counter[str]
    spatial: Counter[str]


def term_counts(prompts: Sequence[Prompt]) -> TermCounts:
    """Count colour, shape and spatial words over all requirements (``grey`` counts as ``gray``).

    The colour words are the rule judge's (:data:`svgkit.judge.COLOUR_WORDS`), so the colours
    counted here are the ones the judge can check; shapes and spatial words are :data:`SHAPE_WORDS`
    and :data:`SPATIAL_WORDS`.
    """
    words = Counter(
        w for p in prompts for r in p.requirements for w in re.findall(r"[a-z]+", r.lower())
    )
    if "grey" in words:
        words["gray"] += words.pop("grey")

    def pick(vocabulary: Iterable[str]) -> Counter[str]:
        return Counter({w: words[w] for w in vocabulary if words.get(w)})

    return TermCounts(pick(COLOUR_WORDS), pick(SHAPE_WORDS), pick(SPATIAL_WORDS))
