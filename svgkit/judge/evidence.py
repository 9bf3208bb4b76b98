"""What a rendered picture shows, as the rule judge's rules read it: :class:`Evidence`.

:func:`gather_evidence` measures it once per picture: pixel facts (colour classes, their
shares overall, on the border and per :data:`REGIONS` box, the tiny-drawing guard) and one
inventory of the SVG's drawn elements (:class:`Inventory`: shapes, paints, texts and where
the texts are drawn), which every rule shares.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..config import JUDGE
from ..guards import ink_stats, spelled_out_texts
from ..reading import element_text, load_rgb, local_name, parse_svg_tree

__all__ = [
    "REGIONS",
    "SHAPE_GROUPS",
    "DrawnElement",
    "Evidence",
    "Inventory",
    "colour_masks",
    "colours_in",
    "gather_evidence",
    "in_region",
    "inventory",
    "locate_texts",
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


def locate_texts(root: Any, count: int) -> list[_Box | None]:
    """Where each of the first ``count`` non-empty ``<text>`` elements is drawn, by one colour-coded render.

    Every other element is hidden and each text painted in its own colour; a text that draws
    no pixel (or any text, when the render fails) gets ``None``.
    """
    from lxml import etree

    from ..render import render_png

    boxes: list[_Box | None] = [None] * count
    code_root = etree.fromstring(etree.tostring(root))
    text_els = [el for el in code_root.iter() if local_name(el.tag) == "text" and element_text(el)]
    drawables = {"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "image", "use"}
    for el in code_root.iter():
        if local_name(el.tag) in drawables:
            el.set("style", "visibility:hidden;display:none")
    for i, el in enumerate(text_els[:40000]):
        colour = f"rgb({1 + i // 200},0,{1 + i % 200})"
        for sub in el.iter():
            sub.set("style", f"fill:{colour};stroke:none;opacity:1;fill-opacity:1;visibility:visible;"
                             "display:inline")
    try:
        res = render_png(etree.tostring(code_root, encoding="unicode"))
    except Exception:  # noqa: BLE001 - a failed locate only leaves positions undecided
        logger.debug("text locating render failed", exc_info=True)
        return boxes
    if not getattr(res, "ok", False) or not res.png:
        return boxes
    rgb = load_rgb(res.png).astype(np.int32)
    h, w = rgb.shape[:2]
    pure = (rgb[..., 1] == 0) & (rgb[..., 0] >= 1) & (rgb[..., 2] >= 1)
    ids = np.where(pure, (rgb[..., 0] - 1) * 200 + (rgb[..., 2] - 1), -1)
    for i in range(min(count, len(text_els))):
        ys, xs = np.nonzero(ids == i)
        if xs.size:
            boxes[i] = (float(xs.min() / w), float(ys.min() / h), float((xs.max() + 1) / w),
                        float((ys.max() + 1) / h))
    return boxes


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
        texts: Each non-empty ``<text>`` with where it is drawn (``None``: not measured).
        spelled_out: Texts that spell out a requirement (a hack: not accepted as labels).
        has_svg: An SVG came with the picture (even an empty one).
        dom: The SVG's drawn elements (``None`` without a readable SVG).
        tiny: The drawing covers a tiny part of an empty canvas: too small to see anything in.
    """

    width: int
    height: int
    masks: dict[str, np.ndarray]
    share: dict[str, float]
    border_share: dict[str, float]
    texts: tuple[tuple[str, _Box | None], ...]
    spelled_out: frozenset[str]
    has_svg: bool
    dom: Inventory | None = None
    tiny: bool = False

    def present(self, classes: Sequence[str]) -> bool:
        """Whether any of the colour ``classes`` covers at least ``JUDGE.colour_presence_share``."""
        return any(self.share.get(c, 0.0) >= JUDGE.colour_presence_share for c in classes)

    def region_share(self, classes: Sequence[str], region: str) -> float:
        """The largest share of the :data:`REGIONS` box ``region`` that one of ``classes`` covers."""
        x0, y0, x1, y1 = REGIONS[region]
        ys = slice(int(y0 * self.height), max(int(y1 * self.height), int(y0 * self.height) + 1))
        xs = slice(int(x0 * self.width), max(int(x1 * self.width), int(x0 * self.width) + 1))
        best = 0.0
        for c in classes:
            m = self.masks[c][ys, xs]
            best = max(best, float(m.mean()) if m.size else 0.0)
        return best


def gather_evidence(png: bytes, svg: str | None, requirements: Sequence[str], *,
                    locate_text: bool = True) -> Evidence:
    """Measure a rendered picture (and the SVG drawn, if given) for the rules.

    Args:
        png: The rendered PNG.
        svg: The sanitised SVG (``None``: judge the pixels only).
        requirements: The requirements being judged (texts spelling one out are not labels).
        locate_text: Measure where each text is drawn (one extra render when there is text).

    Raises:
        Exception: The PNG cannot be read.
    """
    rgb = load_rgb(png)
    h, w = rgb.shape[:2]
    masks = _all_masks(rgb)
    share = {k: float(m.mean()) for k, m in masks.items()}
    border = np.zeros((h, w), dtype=bool)
    bw = max(1, min(h, w) // 50)
    border[:bw, :] = border[-bw:, :] = True
    border[:, :bw] = border[:, -bw:] = True
    border_share = {k: float(m[border].mean()) for k, m in masks.items()}
    texts: tuple[tuple[str, _Box | None], ...] = ()
    spelled_out: frozenset[str] = frozenset()
    dom = None
    root = parse_svg_tree(svg) if svg else None
    if root is not None:
        dom = inventory(root)
        boxes = locate_texts(root, len(dom.texts)) if locate_text and dom.texts else [None] * len(dom.texts)
        texts = tuple(zip(dom.texts, boxes, strict=True))
        spelled_out = spelled_out_texts(list(dom.texts), requirements)
    return Evidence(w, h, masks, share, border_share, texts, spelled_out, svg is not None, dom,
                    ink_stats(png).tiny)
