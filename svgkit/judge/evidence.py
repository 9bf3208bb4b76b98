"""What a rendered picture shows, as the rule judge's rules read it: :class:`Evidence`.

:func:`gather_evidence` measures it once per picture: pixel facts (colour classes, their
shares overall, on the border and per :data:`REGIONS` box, solid patches of a colour, the
tiny-drawing and noise/swatch guards) and one inventory of the SVG's drawn elements
(:class:`Inventory`: shapes, paints, texts), which every rule shares.

Text counts only where the picture shows it (:func:`see_texts`): each ``<text>`` is located by
a colour-coded render and compared with the picture drawn without any text, so a text that is
transparent, hidden, inside ``<defs>``, clipped away, covered, off the canvas or drawn in the
colour it sits on is *not seen*. A seen text is *anchored* when it sits on or beside something
drawn, not alone on the empty canvas.

The work is bounded (:class:`Deadline`): at most ``JUDGE.rule_max_texts`` texts are read and
everything stops after ``JUDGE.rule_budget_s`` seconds with :class:`RuleBudgetExceeded`.
"""

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..config import JUDGE, LIMITS
from ..guards import ClutterStats, clutter_stats, ink_stats, spelled_out_texts, text_free_png
from ..reading import element_text, load_rgb, local_name, open_mask, parse_svg_tree

__all__ = [
    "REGIONS",
    "SHAPE_GROUPS",
    "Deadline",
    "DrawnElement",
    "Evidence",
    "Inventory",
    "RuleBudgetExceeded",
    "SeenText",
    "colour_masks",
    "colours_in",
    "gather_evidence",
    "in_region",
    "inventory",
    "see_texts",
]

logger = logging.getLogger(__name__)

_RGB = tuple[int, int, int]
_Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) as fractions of the canvas

#: Absolute regions as (x0, y0, x1, y1) fractions of the canvas.
REGIONS: dict[str, _Box] = {
    "top-left": (0, 0, 0.45, 0.45), "top-right": (0.55, 0, 1, 0.45),
    "bottom-left": (0, 0.55, 0.45, 1), "bottom-right": (0.55, 0.55, 1, 1),
    "top-centre": (0.25, 0, 0.75, 0.45), "bottom-centre": (0.25, 0.55, 0.75, 1),
    "top": (0, 0, 1, 0.4), "bottom": (0, 0.6, 1, 1), "left": (0, 0, 0.4, 1), "right": (0.6, 0, 1, 1),
    "centre": (0.25, 0.25, 0.75, 0.75),
}

#: Shape group of a requirement's shape word -> (element kinds that draw it, which paint carries the colour).
SHAPE_GROUPS: dict[str, tuple[frozenset[str] | None, str]] = {
    "round": (frozenset({"circle", "ellipse"}), "fill"),
    "rect": (frozenset({"rect"}), "fill"),
    "triangle": (frozenset({"triangle"}), "fill"),
    "line": (frozenset({"line", "polyline", "path"}), "stroke"),
    "outline": (None, "stroke"),  # any element's outline
    "ring": (frozenset({"circle", "ellipse"}), "stroke"),
}


# ------------------------------------------------------------------------- colour classes
def colour_masks(rgb: np.ndarray, *, pale: bool = False) -> dict[str, np.ndarray]:
    """Boolean masks of loose colour classes (overlapping near their borders); ``pale`` for light tints."""
    f = rgb.astype(np.float32) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    mx, mn = f.max(axis=2), f.min(axis=2)
    v = mx
    c = mx - mn
    s = np.where(mx > 0, c / np.maximum(mx, 1e-6), 0.0)
    h = np.zeros_like(mx)
    nz = c > 1e-6
    rc = np.where(nz, (mx - r) / np.maximum(c, 1e-6), 0)
    gc = np.where(nz, (mx - g) / np.maximum(c, 1e-6), 0)
    bc = np.where(nz, (mx - b) / np.maximum(c, 1e-6), 0)
    h = np.where(r == mx, bc - gc, np.where(g == mx, 2.0 + rc - bc, 4.0 + gc - rc))
    h = (h / 6.0) % 1.0 * 360.0
    if pale:
        chroma = (s >= 0.05) & (v >= 0.6)
        return {
            "red": chroma & ((h < 16) | (h >= 340)), "orange": chroma & (h >= 14) & (h < 46),
            "yellow": chroma & (h >= 40) & (h < 75), "green": chroma & (h >= 68) & (h < 170),
            "teal": chroma & (h >= 160) & (h < 200), "blue": chroma & (h >= 190) & (h < 258),
            "purple": chroma & (h >= 250) & (h < 305), "pink": chroma & ((h >= 295) | (h < 15)),
            "brown": chroma & (h < 50) & (v < 0.9), "grey": (s < 0.15) & (v >= 0.55) & (v <= 0.985),
            "white": (s < 0.12) & (v > 0.9), "black": v < 0.22,
        }
    chroma = (s >= 0.18) & (v >= 0.18)
    return {
        "red": chroma & (s >= 0.35) & ((h < 16) | (h >= 340)) & (v >= 0.3),
        "orange": chroma & (s >= 0.4) & (h >= 14) & (h < 46) & (v >= 0.55),
        "yellow": chroma & (s >= 0.3) & (h >= 40) & (h < 72) & (v >= 0.5),
        "green": chroma & (h >= 68) & (h < 170),
        "teal": chroma & (h >= 160) & (h < 200),
        "blue": chroma & (h >= 190) & (h < 258),
        "purple": chroma & (h >= 250) & (h < 305),
        "pink": ((chroma & (h >= 295) & (h < 345) & (v >= 0.45))
                 | ((s >= 0.12) & (s < 0.55) & (v >= 0.75) & ((h >= 330) | (h < 15)))),
        "brown": (s >= 0.2) & (v >= 0.1) & (v < 0.72) & ((h < 50) | (h >= 345)),
        "grey": (s < 0.15) & (v >= 0.2) & (v <= 0.93),
        "white": (s < 0.12) & (v > 0.9),
        "black": v < 0.22,
    }


def _all_masks(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Every colour class, plain and ``pale-*``."""
    masks = colour_masks(rgb)
    masks.update({f"pale-{k}": m for k, m in colour_masks(rgb, pale=True).items()})
    return masks


def colours_in(colours: Sequence[_RGB], classes: Sequence[str]) -> bool:
    """Whether any of ``colours`` falls in any of the colour ``classes`` (``pale-*`` included)."""
    if not colours:
        return False
    masks = _all_masks(np.array([list(colours)], dtype=np.uint8))
    return any(bool(masks[c].any()) for c in classes if c in masks)


def in_region(box: _Box, region: str) -> bool:
    """Whether the centre of ``box`` lies in the named :data:`REGIONS` box."""
    x0, y0, x1, y1 = REGIONS[region]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return x0 <= cx <= x1 and y0 <= cy <= y1


# ------------------------------------------------------------------------- the DOM inventory
@dataclass(frozen=True)
class DrawnElement:
    """One element of the SVG that draws something, as the rules read it.

    Attributes:
        kind: The tag (``circle``, ``rect``, ``path``, ``text``, ``use`` ...); a three-point
            polygon is a ``triangle``.
        painted: Drawn on the canvas: not inside ``<defs>``, a clip path, mask, pattern,
            marker or symbol, not under ``display:none``, not nested in another ``<text>``.
        fill: The colours its (inherited) fill paints; gradient stops for a gradient; ``()``
            for none, an unreadable paint, a line, or an element that is not painted.
        stroke: The same for its outline.
        text: The text of a ``<text>`` element (tspans joined).
        shape: A primitive the count rule counts: ``circle`` (a round circle or ellipse),
            ``square``, ``rect`` or ``triangle``; ``None`` otherwise.
        shape_fill: The shape's own fill attribute (black when unset, ``None`` when unreadable),
            which the count rule reads.
    """

    kind: str
    painted: bool
    fill: tuple[_RGB, ...] = ()
    stroke: tuple[_RGB, ...] = ()
    text: str = ""
    shape: str | None = None
    shape_fill: _RGB | None = None


#: Kinds whose fill and stroke the rules read.
_PAINTED_KINDS = frozenset({"circle", "ellipse", "rect", "triangle", "polygon", "line", "polyline", "path"})
#: Kinds that may draw more shapes than the primitives counted.
_FREEFORM_KINDS = frozenset({"path", "use", "polyline", "image", "polygon"})
_DRAWING_TAGS = frozenset({"circle", "ellipse", "rect", "polygon", "line", "polyline", "path", "use", "image", "text"})
_NOT_DRAWN = frozenset({"defs", "clipPath", "mask", "pattern", "marker", "symbol", "linearGradient", "radialGradient",
                        "title", "desc", "metadata", "style"})
_GRADIENTS = ("linearGradient", "radialGradient")
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_NUMBER_RE = re.compile(r"-?[\d.]+(?:e-?\d+)?")
_UNIT_RE = re.compile(r"[a-z%]+$")
_URL_RE = re.compile(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)")


@dataclass(frozen=True)
class Inventory:
    """Every element of an SVG that draws something, in document order (:func:`inventory`)."""

    elements: tuple[DrawnElement, ...]

    @cached_property
    def paints(self) -> tuple[DrawnElement, ...]:
        """The painted shapes, lines and (non-empty) texts."""
        return tuple(e for e in self.elements if e.painted and (e.kind in _PAINTED_KINDS or (e.kind == "text"
                                                                                            and e.text)))

    @cached_property
    def painted_texts(self) -> tuple[DrawnElement, ...]:
        """The painted, non-empty ``<text>`` elements."""
        return tuple(e for e in self.paints if e.kind == "text")

    @cached_property
    def shapes(self) -> tuple[tuple[str, _RGB | None], ...]:
        """The primitive shapes as (shape, own fill), defined ones included."""
        return tuple((e.shape, e.shape_fill) for e in self.elements if e.shape is not None)

    @cached_property
    def freeform(self) -> bool:
        """Whether paths, uses, polylines, images or polygons could draw more than the primitives."""
        return any(e.kind in _FREEFORM_KINDS for e in self.elements)

    @cached_property
    def texts(self) -> tuple[str, ...]:
        """The text of every non-empty ``<text>`` element (wherever it is), in document order."""
        return tuple(e.text for e in self.elements if e.kind == "text" and e.text)

    def has_paint(self, classes: Sequence[str], group: str) -> bool:
        """Whether an element of the :data:`SHAPE_GROUPS` ``group`` is painted in one of ``classes``."""
        kinds, which = SHAPE_GROUPS[group]
        return any((kinds is None or p.kind in kinds) and p.kind != "text"
                   and colours_in(p.fill if which == "fill" else p.stroke, classes) for p in self.paints)


def _style_of(el: Any) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in (kv.split(":", 1) for kv in (el.get("style") or "").split(";")
                                               if ":" in kv)}


def _rgb(value: str) -> _RGB | None:
    from PIL import ImageColor

    try:
        return tuple(ImageColor.getrgb(value)[:3])  # type: ignore[return-value]
    except ValueError:
        return None


def _shape(el: Any, tag: str) -> tuple[str | None, _RGB | None]:
    """The primitive shape an element draws by its geometry, and its own fill attribute."""
    def num(name: str) -> float:
        try:
            return float(_UNIT_RE.sub("", (el.get(name) or "0").strip()))
        except ValueError:
            return 0.0

    shape = None
    if tag in ("circle", "ellipse"):
        rx = num("r") if tag == "circle" else num("rx")
        ry = num("r") if tag == "circle" else num("ry")
        if rx > 0 and ry > 0 and abs(rx - ry) <= 0.1 * max(rx, ry):
            shape = "circle"
    elif tag == "rect":
        w, h = num("width"), num("height")
        if w > 0 and h > 0:
            shape = "square" if abs(w - h) <= 0.1 * max(w, h) else "rect"
    elif tag == "triangle":
        shape = "triangle"
    if shape is None:
        return None, None
    style = dict(kv.split(":", 1) for kv in (el.get("style") or "").replace(" ", "").split(";") if ":" in kv)
    fill_s = (style.get("fill") or el.get("fill") or "").strip()
    if not fill_s:
        return shape, (0, 0, 0)
    return shape, _rgb(fill_s)


def inventory(root: Any) -> Inventory:
    """Walk an SVG tree once and list every element that draws, with its paints, text and shape."""
    gradients: dict[str, tuple[_RGB, ...]] = {}
    borrowing: list[tuple[str, str]] = []  # gradients that may take their stops from another (href)
    found: list[tuple[str, bool, str, str, str, Any]] = []  # kind, painted, fill, stroke, text, element
    stack: list[tuple[Any, str, str, bool]] = [(root, "black", "none", True)]
    while stack:
        el, fill, stroke, painted = stack.pop()
        tag = local_name(el.tag)
        if tag in _GRADIENTS and el.get("id"):
            stops = []
            for st in el.iter():
                if local_name(st.tag) == "stop":
                    c = _rgb((_style_of(st).get("stop-color") or st.get("stop-color") or "black").strip())
                    if c is not None:
                        stops.append(c)
            gradients[el.get("id")] = tuple(stops)
            borrowing.append((el.get("id"), (el.get("href") or el.get(_XLINK_HREF) or "").lstrip("#")))
        if painted:
            if tag in _NOT_DRAWN:
                painted = False
            else:
                style = _style_of(el)
                fill = style.get("fill") or el.get("fill") or fill
                stroke = style.get("stroke") or el.get("stroke") or stroke
                painted = (style.get("display") or el.get("display") or "") != "none"
        kind = tag
        if tag == "polygon":
            kind = "triangle" if len(_NUMBER_RE.findall(el.get("points") or "")) == 6 else "polygon"
        if tag in _DRAWING_TAGS:
            found.append((kind, painted, fill, stroke, element_text(el) if tag == "text" else "", el))
        if tag == "text":
            painted = False  # a <text> inside a <text> is not drawn on its own
        stack.extend((child, fill, stroke, painted) for child in reversed(el))
    for gid, href in borrowing:
        if not gradients[gid]:
            gradients[gid] = gradients.get(href, ())

    def paint(value: str) -> tuple[_RGB, ...]:
        value = value.strip()
        if not value or value in ("none", "transparent"):
            return ()
        m = _URL_RE.match(value)
        if m:
            return gradients.get(m.group(1), ())
        c = _rgb(value)
        return (c,) if c is not None else ()

    elements = []
    for kind, painted, fill, stroke, text, el in found:
        shape, shape_fill = _shape(el, kind)
        reads_paint = painted and (kind in _PAINTED_KINDS or (kind == "text" and bool(text)))
        elements.append(DrawnElement(
            kind, painted,
            fill=paint(fill) if reads_paint and kind != "line" else (),
            stroke=paint(stroke) if reads_paint else (),
            text=text, shape=shape, shape_fill=shape_fill))
    return Inventory(tuple(elements))


class RuleBudgetExceeded(RuntimeError):
    """The rule judge's work on one answer ran past its budget (``JUDGE.rule_budget_s``)."""


class Deadline:
    """A budget of work seconds for one answer: the CPU time of the thread doing it plus the time it
    waits for its evidence renders.

    The thread's CPU time (:func:`time.thread_time`) rather than the wall clock, so a busy machine
    does not turn an honest answer undecided; the renders it waits for (in worker processes) are
    counted as they take, each limited to what is left of the budget and never retried, so an SVG
    that is slow to draw runs the budget out instead of the clock. Create and use it in one thread.

    Args:
        seconds: The budget (``None``: unbounded).
    """

    def __init__(self, seconds: float | None = JUDGE.rule_budget_s) -> None:
        self.seconds = seconds
        self._start = time.thread_time()
        self._waited = 0.0

    def spent(self) -> float:
        """Work seconds spent so far (CPU time plus render waits)."""
        return time.thread_time() - self._start + self._waited

    def remaining(self) -> float:
        """Work seconds left (``inf`` when unbounded)."""
        return float("inf") if self.seconds is None else self.seconds - self.spent()

    def check(self, step: str) -> None:
        """Raise :class:`RuleBudgetExceeded` when the budget is spent.

        Raises:
            RuleBudgetExceeded: Past the budget, naming ``step``.
        """
        if self.remaining() <= 0:
            raise RuleBudgetExceeded(f"the rule judge's {self.seconds:g} s budget ran out while {step}: "
                                     "needs a vision judge")

    def render_timeout(self) -> float:
        """The timeout of a render the work asks for: what is left of the budget, at most
        ``LIMITS.render_timeout_s`` (checking the budget first)."""
        self.check("rendering")
        return max(0.05, min(LIMITS.render_timeout_s, self.remaining()))

    def render(self, draw: Any) -> Any:
        """Call ``draw(timeout_s)`` (a render on this budget, not retried) and count the wait.

        Raises:
            RuleBudgetExceeded: The budget was spent before it, or by it.
        """
        timeout = self.render_timeout()
        start = time.monotonic()
        try:
            return draw(timeout)
        finally:
            self._waited += time.monotonic() - start


@dataclass(frozen=True)
class SeenText:
    """One non-empty ``<text>`` element and whether the picture shows it.

    Attributes:
        text: Its text (tspans joined).
        box: Where its visible glyphs are, as ``(x0, y0, x1, y1)`` fractions of the canvas
            (``None``: not seen, or not measured).
        visible: Seen in the picture: on the canvas, not hidden, clipped or covered, with
            enough contrast to what is behind it (``None``: not measured).
        anchored: Seen on or beside something drawn rather than alone on the empty canvas
            (``None``: not measured).
        fill: The colours of its (inherited) fill, as the SVG says.
        painted: The SVG draws it (not in ``<defs>``, not under ``display:none``).
        why: Why it is not seen (``""`` when it is, or was not measured).
    """

    text: str
    box: _Box | None = None
    visible: bool | None = None
    anchored: bool | None = None
    fill: tuple[_RGB, ...] = ()
    painted: bool = True
    why: str = ""

    @property
    def shown(self) -> bool:
        """Seen, or (when not measured) drawn by the SVG."""
        return self.visible if self.visible is not None else self.painted


# On a black canvas, text i is drawn in rgb(8a+4, 255, 8b+4) with (a, b) = divmod(i, 31). A pixel the
# text covers by a share c reads (c(8a+4), 255c, c(8b+4)): green gives c, so edge pixels decode too,
# and neighbouring ids differ by 8 in a channel, so rounding never turns one text's pixel into another's.
_CODE_STEP = 8
_CODE_BASE = 31
_CODED_LIMIT = _CODE_BASE * _CODE_BASE
_KEEP_INSIDE = frozenset({"clipPath", "mask"})  # shapes there shape the clip or mask, they are not drawn


def _coded_svg(root: Any, stroked: Sequence[bool] = ()) -> tuple[str, int]:
    """The SVG with every shape hidden, every opacity 1 and each ``<text>`` in its own colour
    (its outline too where ``stroked`` says it has one)."""
    from lxml import etree

    code_root = etree.fromstring(etree.tostring(root))
    drawables = {"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "image", "use"}

    def inside_clip(el: Any) -> bool:
        return any(local_name(a.tag) in _KEEP_INSIDE for a in el.iterancestors())

    texts = [el for el in code_root.iter() if local_name(el.tag) == "text" and element_text(el)]
    for el in code_root.iter():
        tag = local_name(el.tag)
        if tag in drawables and not inside_clip(el):
            el.set("style", "visibility:hidden;display:none")
        elif tag in ("g", "svg", "a", "switch") and not inside_clip(el):
            el.set("opacity", "1")  # where a text is drawn; whether it shows is measured on the real picture
            style = "".join(f"{kv};" for kv in (el.get("style") or "").split(";")
                            if kv.strip() and not kv.strip().lower().startswith(("opacity", "fill-opacity")))
            el.set("style", style + "opacity:1")
    for i, el in enumerate(texts[:_CODED_LIMIT]):
        a, b = divmod(i, _CODE_BASE)
        colour = f"rgb({_CODE_STEP * a + 4},255,{_CODE_STEP * b + 4})"
        stroke = f"stroke:{colour};stroke-opacity:1" if i < len(stroked) and stroked[i] else "stroke:none"
        for sub in el.iter():
            sub.set("style", f"fill:{colour};{stroke};opacity:1;fill-opacity:1;visibility:visible;display:inline")
    black = etree.Element("{http://www.w3.org/2000/svg}rect", x="-100%", y="-100%", width="300%", height="300%",
                          fill="#000000", style="fill:#000000;opacity:1")
    code_root.insert(0, black)
    return etree.tostring(code_root, encoding="unicode"), len(texts)


def _glyph_ids(png: bytes) -> np.ndarray:
    """Per pixel of the locating render: the index of the text drawn there, or -1."""
    rgb = load_rgb(png).astype(np.float64)
    cover = rgb[..., 1] / 255.0
    coded = cover >= 0.35
    safe = np.maximum(cover, 1e-6)
    a = np.rint((rgb[..., 0] / safe - 4) / _CODE_STEP).astype(np.int64)
    b = np.rint((rgb[..., 2] / safe - 4) / _CODE_STEP).astype(np.int64)
    ok = coded & (a >= 0) & (a < _CODE_BASE) & (b >= 0) & (b < _CODE_BASE)
    return np.where(ok, a * _CODE_BASE + b, -1)


def _sharp(a: np.ndarray, axis: int) -> np.ndarray:
    """Where neighbouring pixels along ``axis`` differ sharply (an outline, an edge: not a gradient)."""
    return np.abs(np.diff(a, axis=axis)).max(axis=-1) > JUDGE.edge_contrast


def _backdrop(free: np.ndarray) -> np.ndarray:
    """The picture's most common colour (quantised to 16 levels a channel): its empty canvas."""
    q = (free[..., :3].astype(np.int64) >> 4)
    codes = (q[..., 0] << 8) | (q[..., 1] << 4) | q[..., 2]
    top = int(np.bincount(codes.ravel(), minlength=4096).argmax())
    return np.array([top >> 8, (top >> 4) & 15, top & 15], dtype=np.int64)


def _anchored(free: np.ndarray, box: tuple[int, int, int, int], backdrop: np.ndarray | None = None) -> bool:
    """Whether the text at ``box`` (pixels) sits on or beside something drawn, in the text-free picture.

    Beside: sharp edges (outlines, shapes; not a gradient) within three times its height. On: most
    of what is under it is not the picture's backdrop (its most common colour: the grass a sign
    stands in, a banner), or a sharp edge on at least three of the four straight lines from it to
    the canvas edges (it is enclosed by a shape: a sign, a card, a button).
    """
    h, w = free.shape[:2]
    x0, y0, x1, y1 = box
    f = free.astype(np.int16)
    m = max(3 * (y1 - y0), int(0.02 * min(h, w)), 2)
    win = f[max(0, y0 - m):min(h, y1 + m), max(0, x0 - m):min(w, x1 + m)]
    if int(_sharp(win, 1).sum()) + int(_sharp(win, 0).sum()) >= 10:
        return True
    if backdrop is not None and y1 > y0 and x1 > x0:
        under = free[y0:y1, x0:x1, :3].astype(np.int64) >> 4
        if float((under == backdrop).all(axis=-1).mean()) < 0.5:
            return True
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    rays = (f[cy, :x0][::-1], f[cy, x1:], f[:y0, cx][::-1], f[y1:, cx])
    return sum(1 for r in rays if len(r) > 1 and bool(_sharp(r, 0).any())) >= 3


def see_texts(root: Any, dom: "Inventory", rgb: np.ndarray | None, free_rgb: np.ndarray | None, *,
              deadline: Deadline | None = None) -> list[SeenText]:
    """Where the picture shows each non-empty ``<text>`` (see the module docs).

    Args:
        root: The SVG tree.
        dom: Its inventory (the texts and their fills, in document order).
        rgb: The picture as judged.
        free_rgb: The picture drawn without its texts (``None``: whether a text shows is
            then not measured, only where it would be drawn).
        deadline: The work budget.

    Raises:
        RuleBudgetExceeded: The budget ran out.
    """
    from ..render import render_png

    texts = [e for e in dom.elements if e.kind == "text" and e.text]
    deadline = deadline or Deadline(None)
    coded, n = _coded_svg(root, [bool(e.stroke) for e in texts])
    res = deadline.render(lambda t: render_png(coded, timeout_s=t, retry=False))
    deadline.check("locating text")
    if not getattr(res, "ok", False) or not res.png:
        return [SeenText(e.text, fill=e.fill, painted=e.painted) for e in texts]
    ids = _glyph_ids(res.png)
    h, w = ids.shape
    n = min(n, len(texts), _CODED_LIMIT)
    located = (ids >= 0) & (ids < n)
    counts = np.bincount(ids[located], minlength=n)
    measured = rgb is not None and free_rgb is not None and rgb.shape[:2] == (h, w) == free_rgb.shape[:2]
    if measured:
        diff = np.abs(rgb.astype(np.int16) - free_rgb.astype(np.int16)).max(axis=2) >= JUDGE.text_min_contrast
        shown = located & diff
    else:
        shown = located
    backdrop = _backdrop(free_rgb) if measured else None  # type: ignore[arg-type]
    ys, xs = np.nonzero(shown)
    sid = ids[ys, xs]
    seen = np.bincount(sid, minlength=n)
    big = np.iinfo(np.int64).max
    x0, y0 = np.full(n, big), np.full(n, big)
    x1, y1 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    np.minimum.at(x0, sid, xs)
    np.maximum.at(x1, sid, xs + 1)
    np.minimum.at(y0, sid, ys)
    np.maximum.at(y1, sid, ys + 1)
    out = []
    for i, e in enumerate(texts):
        if i % 64 == 0:
            deadline.check("reading text")
        if i >= n or counts[i] == 0:
            out.append(SeenText(e.text, visible=False, anchored=False, fill=e.fill, painted=e.painted,
                                why="it draws nothing on the canvas (hidden, clipped, empty or off the canvas)"))
            continue
        if seen[i] < 2 or seen[i] / counts[i] < JUDGE.text_visible_share:
            out.append(SeenText(e.text, visible=False, anchored=False, fill=e.fill, painted=e.painted,
                                why="it is transparent, covered, or the colour of what is behind it"))
            continue
        box_px = (int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i]))
        box = (box_px[0] / w, box_px[1] / h, box_px[2] / w, box_px[3] / h)
        anchored = _anchored(free_rgb, box_px, backdrop) if measured else None  # type: ignore[arg-type]
        out.append(SeenText(e.text, box, True if measured else None, anchored, e.fill, e.painted))
    return out


# ------------------------------------------------------------------------- evidence
@dataclass(frozen=True)
class Evidence:
    """Everything the rules may read about one picture.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        masks: Colour class -> boolean pixel mask (``pale-*`` classes included).
        share: Colour class -> share of the canvas.
        border_share: Colour class -> share of a thin border around the canvas.
        texts: Each non-empty ``<text>``, and whether and where the picture shows it.
        spelled_out: Texts that spell out a requirement (a hack: not accepted as labels).
        has_svg: An SVG came with the picture (even an empty one).
        dom: The SVG's drawn elements (``None`` without a readable SVG).
        tiny: The drawing covers a tiny part of an empty canvas: too small to see anything in.
        clutter: Whether the picture (without its text) is mostly noise or swatches.
        text_limit: Why texts were not read (too many of them), else ``""``.
    """

    width: int
    height: int
    masks: dict[str, np.ndarray]
    share: dict[str, float]
    border_share: dict[str, float]
    texts: tuple[SeenText, ...]
    spelled_out: frozenset[str]
    has_svg: bool
    dom: Inventory | None = None
    tiny: bool = False
    clutter: ClutterStats | None = None
    text_limit: str = ""
    _patches: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def present(self, classes: Sequence[str]) -> bool:
        """Whether any of the colour ``classes`` covers at least ``JUDGE.colour_presence_share``."""
        return any(self.share.get(c, 0.0) >= JUDGE.colour_presence_share for c in classes)

    def patches(self, colour_class: str) -> np.ndarray:
        """The pixels of ``colour_class`` that belong to solid patches (see ``JUDGE.solid_patch_share``):
        scattered pixels, thin lines and tiny swatches left out."""
        if colour_class not in self._patches:
            radius = max(1, round(JUDGE.solid_patch_share * min(self.width, self.height) / 2))
            self._patches[colour_class] = open_mask(self.masks[colour_class], radius)
        return self._patches[colour_class]

    def has_patch(self, classes: Sequence[str]) -> bool:
        """Whether one of ``classes`` forms a solid patch anywhere."""
        return any(c in self.masks and bool(self.patches(c).any()) for c in classes)

    def region_share(self, classes: Sequence[str], region: str) -> float:
        """The largest share of the :data:`REGIONS` box ``region`` that the solid patches of one of
        ``classes`` cover (not scattered pixels, thin lines or tiny swatches: see :meth:`patches`)."""
        x0, y0, x1, y1 = REGIONS[region]
        ys = slice(int(y0 * self.height), max(int(y1 * self.height), int(y0 * self.height) + 1))
        xs = slice(int(x0 * self.width), max(int(x1 * self.width), int(x0 * self.width) + 1))
        best = 0.0
        for c in classes:
            if c in self.masks and self.share.get(c, 0.0) > 0:
                m = self.patches(c)[ys, xs]
                best = max(best, float(m.mean()) if m.size else 0.0)
        return best


def _unmeasured(dom: Inventory) -> tuple[SeenText, ...]:
    return tuple(SeenText(e.text, fill=e.fill, painted=e.painted) for e in dom.elements if e.kind == "text" and e.text)


def gather_evidence(png: bytes, svg: str | None, requirements: Sequence[str], *,
                    locate_text: bool = True, deadline: Deadline | None = None) -> Evidence:
    """Measure a rendered picture (and the SVG drawn, if given) for the rules.

    Args:
        png: The rendered PNG.
        svg: The sanitised SVG (``None``: judge the pixels only).
        requirements: The requirements being judged (texts spelling one out are not labels).
        locate_text: Measure where each text is drawn and whether it shows (two extra renders
            when there is text: a colour-coded one and one without text, shared with the reward's guard).
        deadline: The work budget (default: ``JUDGE.rule_budget_s`` from now).

    Raises:
        RuleBudgetExceeded: The budget ran out.
        Exception: The PNG cannot be read.
    """
    deadline = deadline or Deadline()
    rgb = load_rgb(png)
    h, w = rgb.shape[:2]
    masks = _all_masks(rgb)
    share = {k: float(m.mean()) for k, m in masks.items()}
    border = np.zeros((h, w), dtype=bool)
    bw = max(1, min(h, w) // 50)
    border[:bw, :] = border[-bw:, :] = True
    border[:, :bw] = border[:, -bw:] = True
    border_share = {k: float(m[border].mean()) for k, m in masks.items()}
    deadline.check("reading colours")
    texts: tuple[SeenText, ...] = ()
    spelled_out: frozenset[str] = frozenset()
    dom = None
    text_limit = ""
    free_png = png
    root = parse_svg_tree(svg) if svg else None
    if root is not None:
        dom = inventory(root)
        deadline.check("reading the SVG")
        if dom.texts:
            free_png = deadline.render(lambda t: text_free_png(svg, png, timeout_s=t, retry=False))
        n_texts = len(dom.texts)
        if n_texts > JUDGE.rule_max_texts:
            text_limit = (f"{n_texts:,} text elements, more than the {JUDGE.rule_max_texts} the rule judge reads: "
                          "needs a vision judge")
            texts = _unmeasured(dom)
        elif locate_text and n_texts and free_png is png:
            text_limit = "the picture could not be drawn without its text to see which texts show: needs a vision judge"
            texts = _unmeasured(dom)
        elif locate_text and n_texts:
            texts = tuple(see_texts(root, dom, rgb, load_rgb(free_png), deadline=deadline))
        else:
            texts = _unmeasured(dom)
        deadline.check("reading text")
        if not text_limit:
            spelled_out = spelled_out_texts(list(dom.texts), requirements)
    clutter = clutter_stats(free_png)
    deadline.check("measuring clutter")
    return Evidence(w, h, masks, share, border_share, texts, spelled_out, svg is not None, dom,
                    ink_stats(png).tiny, clutter, text_limit)
