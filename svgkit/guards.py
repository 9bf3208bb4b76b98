"""Reward-hack guards: a blank canvas, a tiny drawing, requirements written out as text.

:func:`ink_stats` measures how much of a rendered picture is drawn (``blank`` and ``tiny``);
:func:`written_requirements` finds requirements (and the prompt) spelled out in the SVG's
``<text>`` instead of drawn, and :func:`spelled_out_texts` the text elements doing it (which
the rule judge does not accept as labels). The reward (:mod:`svgkit.reward`) and the rule judge use both.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import JUDGE
from .reading import all_words, content_words, load_rgb, quoted_phrases, svg_texts

__all__ = ["InkStats", "ink_stats", "spelled_out_texts", "written_requirements"]

# the quickstart's opening words, which a title may repeat without writing the prompt out
_PROMPT_OPENING_RE = re.compile(r"(?i)write `?svg`? code (for|to draw) an image of")


# ------------------------------------------------------------------------- blank and tiny
@dataclass(frozen=True)
class InkStats:
    """What is drawn on a rendered image, relative to its background.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        background: The dominant (most frequent) colour, RGB.
        ink_share: Share of pixels that differ clearly from the background.
        bbox: Bounding box of those pixels as fractions ``(x0, y0, x1, y1)``; ``None`` when blank.
        bbox_share: Area of the bounding box as a share of the canvas.
        blank: Less than ``JUDGE.min_ink_share`` of the canvas is drawn.
        tiny: Something is drawn, but its bounding box covers less than ``JUDGE.tiny_drawing_share``.
    """

    width: int
    height: int
    background: tuple[int, int, int]
    ink_share: float
    bbox: tuple[float, float, float, float] | None
    bbox_share: float
    blank: bool
    tiny: bool


def _dominant(rgb: np.ndarray) -> tuple[int, int, int]:
    q = (rgb // 8).reshape(-1, 3).astype(np.int32)
    codes = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    code = int(np.bincount(codes).argmax())
    sel = codes == code
    mean = rgb.reshape(-1, 3)[sel].mean(axis=0)
    return int(mean[0]), int(mean[1]), int(mean[2])


def ink_stats(png: bytes, *, min_ink_share: float = JUDGE.min_ink_share,
              tiny_drawing_share: float = JUDGE.tiny_drawing_share,
              tolerance: int = JUDGE.ink_tolerance) -> InkStats:
    """Measure how much of a rendered image is drawn (blank and tiny-drawing guards).

    Args:
        png: The PNG bytes.
        min_ink_share: Below this share of differing pixels the image counts as blank.
        tiny_drawing_share: Below this bounding-box share a drawing counts as tiny.
        tolerance: Per-channel difference from the background that counts as ink.
    """
    rgb = load_rgb(png)
    h, w = rgb.shape[:2]
    bg = _dominant(rgb)
    diff = np.abs(rgb.astype(np.int16) - np.array(bg, dtype=np.int16)).max(axis=2)
    ink = diff > tolerance
    share = float(ink.mean()) if ink.size else 0.0
    if not ink.any():
        return InkStats(w, h, bg, 0.0, None, 0.0, True, False)
    ys, xs = np.nonzero(ink)
    x0, x1, y0, y1 = xs.min() / w, (xs.max() + 1) / w, ys.min() / h, (ys.max() + 1) / h
    bshare = float((x1 - x0) * (y1 - y0))
    blank = share < min_ink_share
    return InkStats(w, h, bg, share, (float(x0), float(y0), float(x1), float(y1)), bshare, blank,
                    (not blank) and bshare < tiny_drawing_share)


# ------------------------------------------------------------------------- written as text
def written_requirements(svg: str | None, requirements: Sequence[str], *, prompt: str | None = None,
                         texts: Sequence[str] | None = None) -> tuple[tuple[int, ...], bool]:
    """Find requirements (and the prompt) written out as text in the SVG instead of drawn.

    A requirement counts as written when most of its word pairs (quoted labels left out,
    since those are meant to be written) appear in the SVG's text, or nearly all of its
    content words do.

    Args:
        svg: The (sanitised) SVG.
        requirements: The requirements.
        prompt: The task prompt; also checked.
        texts: The SVG's texts, if already extracted.

    Returns:
        (indexes of written requirements, whether a large part of the prompt is written).
    """
    if texts is None:
        texts = svg_texts(svg) if svg else []
    if not texts:
        return (), False
    # only pairs inside one element: labels placed one after another ("New Moon", "Full Moon") must not
    # chain into a sentence; a sentence wrapped over lines still keeps most of its pairs
    pairs: set[tuple[str, str]] = set()
    for t in texts:
        ws = content_words(t)
        pairs.update(zip(ws, ws[1:], strict=False))
    vocab = {w for t in texts for w in all_words(t)}

    def written(sentence: str, *, min_pairs: int = 2, share: float = JUDGE.written_pair_share) -> bool:
        for q in quoted_phrases(sentence):
            sentence = sentence.replace(q, " ")
        ws = content_words(sentence)
        if len(ws) < 3:
            return False
        bigrams = list(zip(ws, ws[1:], strict=False))
        hit = sum(1 for p in bigrams if p in pairs)
        if bigrams and hit >= min_pairs and hit / len(bigrams) >= share:
            return True
        return len(ws) >= 4 and sum(w in vocab for w in ws) / len(ws) >= JUDGE.written_word_share

    idx = tuple(i for i, r in enumerate(requirements) if written(r))
    # a title naming the subject is fine; most of the prompt spelled out is not
    prompt_written = bool(prompt) and written(_PROMPT_OPENING_RE.sub("", prompt or ""), min_pairs=4, share=0.75)
    return idx, prompt_written


def spelled_out_texts(texts: Sequence[str], requirements: Sequence[str]) -> frozenset[str]:
    """The texts among ``texts`` that on their own spell out one of the written requirements.

    The rule judge does not count such a text as a label: it is a hack, not a drawing.
    """
    idx, _ = written_requirements(None, requirements, texts=texts)
    written = [requirements[i] for i in idx]
    return frozenset(t for t in texts if written_requirements(None, written, texts=[t])[0])
