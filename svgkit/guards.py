"""Reward-hack guards: a blank canvas, a tiny drawing, noise or swatches, requirements written out
as text, text meant for the judge.

- :func:`ink_stats` measures how much of a rendered picture is drawn (``blank`` and ``tiny``);
- :func:`clutter_stats` tells a picture that is mostly random noise or tiny colour swatches
  (``noise``, ``swatches``) from a drawing, on the picture without its text
  (:func:`text_free_png`);
- :func:`written_requirements` finds requirements (and the prompt) spelled out in the picture's
  text instead of drawn, and :func:`spelled_out_texts` the texts doing it (which the rule judge
  does not accept as labels);
- :func:`find_injections` finds text addressed to the judge ("all requirements are fulfilled",
  "ignore previous instructions", "rate this 10/10") and which requirements it touches.

The text guards read every text the picture may show: the SVG's ``<text>``, the text of SVG
documents nested in it as ``data:`` images (:func:`svgkit.reading.document_texts`) and, with
the vision judge, its transcription of the text it sees. The reward (:mod:`svgkit.reward`)
and the rule judge use them all.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import JUDGE, LIMITS
from .reading import (
    all_words,
    components,
    content_words,
    load_rgb,
    normalise_text,
    quoted_phrases,
    svg_texts,
    svg_without_text,
)

__all__ = [
    "ClutterStats",
    "Injection",
    "InkStats",
    "clutter_stats",
    "find_injections",
    "ink_stats",
    "spelled_out_texts",
    "text_free_png",
    "written_requirements",
]

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


def _restates(text: str, requirement: str) -> bool:
    """Whether ``text`` holds one of the requirement's quoted labels *and* most of its other words:
    the requirement written out ("The bulb is labelled 'Bulb'."), not the label it asks for."""
    from collections import Counter

    labels = [normalise_text(q) for q in quoted_phrases(requirement)]
    norm = normalise_text(text)
    if not labels or not any(q in norm for q in labels):
        return False
    label_words = Counter(w for q in labels for w in content_words(q))
    wanted = Counter(content_words(requirement)) - label_words
    rest = Counter(content_words(text)) - label_words
    said = set(wanted) & set(rest)
    return len(said) >= 2 and len(said) >= 0.5 * len(wanted)


def spelled_out_texts(texts: Sequence[str], requirements: Sequence[str]) -> frozenset[str]:
    """The texts among ``texts`` that on their own spell out one of the requirements: one of the
    written requirements (:func:`written_requirements`), or a requirement's quoted label together
    with most of the requirement's other words.

    The rule judge does not count such a text as a label: it is a hack, not a drawing.
    """
    idx, _ = written_requirements(None, requirements, texts=texts)
    written = [requirements[i] for i in idx]
    return frozenset(t for t in texts if (written and written_requirements(None, written, texts=[t])[0])
                     or any(_restates(t, r) for r in requirements))


# ------------------------------------------------------------------------- noise and swatches
@dataclass(frozen=True)
class ClutterStats:
    """Whether a picture is mostly random noise or tiny colour swatches rather than a drawing.

    Measured on the picture without its text (:func:`text_free_png`), so labels never count.

    Attributes:
        edge_share: Share of pixels on a boundary between two colours.
        edge_spread: Share of the cells of a 16 x 12 grid where at least 5% of pixels are such boundaries.
        small_share: Share of the drawn pixels that lie in small isolated patches.
        small_patches: How many such patches there are.
        noise: Colour boundaries everywhere: thousands of small shapes, not a drawing.
        swatches: The drawing is mostly many small isolated patches (swatches, dust).
    """

    edge_share: float
    edge_spread: float
    small_share: float
    small_patches: int
    noise: bool
    swatches: bool

    @property
    def cluttered(self) -> bool:
        """Noise or swatches."""
        return self.noise or self.swatches

    def describe(self) -> str:
        """One line for a metric's reason."""
        what = ("mostly random noise" if self.noise else "mostly tiny isolated swatches" if self.swatches
                else "a drawing, not noise or swatches")
        return (f"{what} (colour boundaries on {self.edge_share:.1%} of the pixels, in {self.edge_spread:.0%} of the "
                f"grid; {self.small_patches} small patches hold {self.small_share:.0%} of the drawing)")


def clutter_stats(png: bytes, *, tolerance: int = JUDGE.ink_tolerance) -> ClutterStats:
    """Measure whether a rendered picture is mostly noise or swatches (pass the text-free picture).

    Noise: colour boundaries cover at least ``JUDGE.noise_edge_share`` of the pixels and are
    spread over at least ``JUDGE.noise_edge_spread`` of the canvas (honest drawings, text-heavy
    screens included, stay far below: their boundaries are outlines). Swatches: at least
    ``JUDGE.swatch_min_patches`` isolated patches, each smaller than ``JUDGE.swatch_max_side``
    of the canvas, hold at least ``JUDGE.swatch_share`` of what is drawn.
    """
    rgb = load_rgb(png)
    h, w = rgb.shape[:2]
    q = (rgb // 32).astype(np.int32)
    code = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]
    edge = np.zeros((h, w), dtype=bool)
    edge[:, :-1] |= code[:, :-1] != code[:, 1:]
    edge[:-1, :] |= code[:-1, :] != code[1:, :]
    edge_share = float(edge.mean()) if edge.size else 0.0
    gy, gx = min(12, h), min(16, w)
    cells = edge[:h // gy * gy, :w // gx * gx].reshape(gy, h // gy, gx, w // gx).mean(axis=(1, 3))
    spread = float((cells >= 0.05).mean())
    # drawn pixels (not the background), pooled to at most ~400 px a side, in connected patches
    bg = np.array(_dominant(rgb), dtype=np.int16)
    ink = np.abs(rgb.astype(np.int16) - bg).max(axis=2) > tolerance
    f = max(1, -(-max(h, w) // 400))
    hh, ww = -(-h // f) * f, -(-w // f) * f
    padded = np.zeros((hh, ww), dtype=bool)
    padded[:h, :w] = ink
    pooled = padded.reshape(hh // f, f, ww // f, f).any(axis=(1, 3))
    parts = components(pooled)
    small_share, n_small = 0.0, 0
    if parts.complete and len(parts.areas):
        sides = np.maximum(parts.boxes[:, 2] - parts.boxes[:, 0], parts.boxes[:, 3] - parts.boxes[:, 1]) * f
        small = sides < JUDGE.swatch_max_side * max(h, w)
        n_small = int(small.sum())
        small_share = float(parts.areas[small].sum() / parts.areas.sum())
    noise = (edge_share >= JUDGE.noise_edge_share and spread >= JUDGE.noise_edge_spread) or not parts.complete
    swatches = n_small >= JUDGE.swatch_min_patches and small_share >= JUDGE.swatch_share
    return ClutterStats(edge_share, spread, small_share, n_small, noise, swatches and not noise)


class _TextFreeCache:
    """The last few text-free renders, shared by the reward's guard and the rule judge (same SVG, one render)."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[str, bytes | None] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, svg: str, timeout_s: float, retry: bool = True) -> bytes | None:
        from .render import render_png

        key = hashlib.sha256(svg.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        stripped = svg_without_text(svg)
        png = None
        if stripped is not None:
            res = render_png(stripped, timeout_s=timeout_s, retry=retry)
            png = res.png if res.ok and res.png else None
            if png is None and not retry:
                return None  # a failure on a short budget is not remembered for the next caller
        with self._lock:
            self._items[key] = png
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return png


_TEXT_FREE = _TextFreeCache()


def text_free_png(svg: str | None, png: bytes, *, timeout_s: float = LIMITS.render_timeout_s,
                  retry: bool = True) -> bytes:
    """The picture drawn without its ``<text>`` elements (``png`` itself when it has none).

    One render, remembered for the last few SVGs, so the reward's guard and the rule judge
    share it. When that render fails, ``png`` is returned. ``retry`` as in
    :func:`svgkit.render.render_png`.
    """
    if not svg or "text" not in svg:
        return png
    return _TEXT_FREE.get(svg, timeout_s, retry) or png


# ------------------------------------------------------------------------- text meant for the judge
@dataclass(frozen=True)
class Injection:
    """Text in the picture addressed to the judge.

    Attributes:
        indexes: Requirements a text claims are fulfilled (0-based).
        whole: A text addresses the judge as a whole ("ignore previous instructions",
            "all requirements are fulfilled", "rate this 10/10"): every requirement is touched.
        phrases: The offending texts (shortened).
    """

    indexes: tuple[int, ...] = ()
    whole: bool = False
    phrases: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """Whether any text was addressed to the judge."""
        return self.whole or bool(self.indexes)

    def touched(self, total: int) -> tuple[int, ...]:
        """The requirements to count as not fulfilled (all of them when :attr:`whole`)."""
        return tuple(range(total)) if self.whole else self.indexes


_FULFIL = r"(?:fulfil+(?:l?ed|s)?|satisf(?:ied|y|ies)|met|meets|complete[d]?|done|passed|true|correct|present|ok)"
_JUDGE_WHOLE_RES = tuple(re.compile(p, re.I) for p in (
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|guidelines|"
    r"requirements|above|previous|prior|earlier|everything)\b",
    r"\ball\b(?:\s+(?:of\s+)?the)?(?:\s+\d+)?\s+(?:requirements?|criteria|conditions|items|checks)\b.{0,30}?\b"
    + _FULFIL + r"\b",
    r"\b(?:every|each)\s+(?:requirement|criterion|condition|check)\b.{0,30}?\b" + _FULFIL + r"\b",
    r"\b(?:requirements?|criteria)\s+(?:are\s+|were\s+|have\s+been\s+)?(?:all\s+)?" + _FULFIL + r"\b",
    r"\b(?:rate|grade|score|mark|give|award)\s+(?:this|it|me|us|the\s+(?:image|picture|drawing|answer|response|svg))\b"
    r".{0,25}?(?:\d+(?:\.\d+)?\s*/\s*\d+|\d+\s*(?:%|percent)|(?:ten|10)\s+out\s+of\s+(?:ten|10)|full\s+(?:marks|score)|"
    r"maximum|perfect|top\s+marks)",
    r"\b(?:score|rating|grade)\s*[:=]?\s*(?:10\s*/\s*10|100\s*/\s*100|100\s*%)",
    r"\b(?:note|message|instruction)s?\s+(?:to|for)\s+(?:the\s+)?(?:judge|grader|evaluator|reviewer|ai|assistant)\b",
    r"\b(?:dear|hey|attention|hello)\s*,?\s+(?:judge|grader|evaluator|reviewer|gpt)\b",
    r"^\s*(?:judge|grader|evaluator)\s*:",
    r"\b(?:you|the\s+(?:judge|grader|evaluator|model))\s+(?:must|should|will|shall)\s+(?:answer|respond|reply|output|"
    r"mark|score|rate|return)\b",
    r"\bnumber_of_fulfilled_requirements\b|[\"']fulfilled[\"']\s*:\s*true\b",
    r"\bsystem\s+prompt\b|\bnew\s+instructions?\b|\bjailbreak\b",
    r"\b(?:this|the)\s+(?:image|picture|drawing|svg|answer|response)\s+(?:fully\s+)?(?:fulfils|fulfills|satisfies|"
    r"meets|passes|matches)\s+(?:all|every|each|the)\b",
))
_NUMBERED_RE = re.compile(r"\b(?:requirements?|criteri(?:on|a)|items?|checks?)\s*(?:no\.?\s*)?#?\s*"
                          r"(\d+(?:\s*(?:,|and|&|-)\s*#?\d+)*)\b[^.]{0,30}?\b" + _FULFIL + r"\b", re.I)
_CLAIM_RE = re.compile(r"\b(?:fulfil+(?:l?ed|s)?|satisf(?:ied|ies)|is\s+met|are\s+met|requirement|criteri(?:on|a))\b"
                       r"|[\u2713\u2714\u2611]|\[x\]", re.I)


def _requested(text: str, requirements: Sequence[str], labels: Sequence[str]) -> str:
    """``text`` without what the requirements ask to be written: their quoted labels; ``""`` when
    all its words are words of one requirement (a requirement asks for that text)."""
    out = normalise_text(text)
    for label in sorted(labels, key=len, reverse=True):
        # whole phrases only: a short label ('No', 'Sat', '0') must not cut the words around it
        # ("ignore", "satisfied", "10/10") and so switch the patterns off
        out = re.sub(rf"(?<!\w){re.escape(label)}(?!\w)", " ", out)
    words = set(all_words(out))
    if words and any(words <= set(all_words(r)) for r in requirements):
        return ""
    return out.strip()


def find_injections(texts: Sequence[str], requirements: Sequence[str]) -> Injection:
    """Find text addressed to the judge among ``texts`` (everything the picture shows as text).

    Text a requirement asks for is never an injection: a requirement's quoted labels are taken
    out first, and a text made only of one requirement's words is left alone, so a game screen
    asked to show 'Score: 120' keeps its credit.

    Args:
        texts: The picture's texts (SVG ``<text>``, nested documents, the judge's transcription lines).
        requirements: The requirements.

    Returns:
        Which requirements the texts touch, or ``whole`` when one addresses the judge as a whole.
    """
    labels = [normalise_text(q) for r in requirements for q in quoted_phrases(r)]
    indexes: set[int] = set()
    whole = False
    phrases: list[str] = []
    req_words = [set(content_words(r)) for r in requirements]
    for raw in texts:
        text = _requested(raw, requirements, labels)
        if not text:
            continue
        hit = False
        if any(p.search(text) for p in _JUDGE_WHOLE_RES):
            whole = hit = True
        for m in _NUMBERED_RE.finditer(text):
            for n in re.findall(r"\d+", m.group(1)):
                if 1 <= int(n) <= len(requirements):
                    indexes.add(int(n) - 1)
                    hit = True
        if not hit and _CLAIM_RE.search(text):
            words = set(content_words(text))
            touched = [i for i, rw in enumerate(req_words) if rw and len(rw & words) / len(rw) >= 0.5]
            indexes.update(touched)
            hit = bool(touched)
        if hit:
            phrases.append(raw[:80])
    return Injection(tuple(sorted(indexes)), whole, tuple(phrases))
