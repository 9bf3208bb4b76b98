"""Find, clean and size the SVG in an untrusted model response.

Everything a model writes is untrusted. This module is where that is handled, once, for
notebooks, the evaluator and tests alike: :func:`extract_svg` finds the SVG in a chat answer,
:func:`sanitize_svg` turns it into a safe, well-formed SVG (or rejects it) and says what it
did, and :func:`canvas_size` picks the size it is drawn at. :mod:`svgkit.render` draws it.

Extraction
----------
Upstream (``eval_protocol/quickstart/svg_agent/evaluator/utils.py``, ``extract_svg_code``)
takes the first fenced ``svg`` block, otherwise the first ``<svg ...>...</svg>`` span.
:func:`extract_svg` returns the same string wherever upstream finds a complete SVG, except
where it deliberately differs (``tests/test_upstream_parity.py`` checks both):

- ``<think>...</think>`` sections (qwen3 reasoning) are ignored, so a draft SVG in the
  reasoning is never graded. A lone ``</think>`` (the opening tag was in the prompt) drops
  everything before it; an unclosed ``<think>`` drops everything after it.
- An SVG that is opened and never closed is reported as ``truncated`` with ``svg=None``
  (the cut-off text is in :attr:`Extraction.partial`). Upstream returns the rest of an
  unclosed ```` ```svg ```` fence and lets the browser draw the fragment.
- A ```` ```svg ```` fence without any ``<svg`` in it is skipped (upstream returns its text,
  which is not an SVG and draws nothing).
- The ``<svg>...</svg>`` span ends at the ``</svg>`` that closes its ``<svg``, counting
  nested ``<svg>`` elements (upstream stops at the first ``</svg>``). An ``<svg`` that never
  closes (such as the tag named in prose) is skipped for a later complete one. Tags are
  matched case-insensitively and ``<svgfoo`` is not an ``<svg`` tag. A span inside an
  ```` ```xml ```` or ```` ```html ```` fence is reported as ``fenced_xml``/``fenced_html``.
- Only the first ``LIMITS.max_response_chars`` characters (1,000,000) of a response are
  searched, and :attr:`Extraction.clipped` says so when there were more: an SVG past the
  cut is not found and one crossing it is ``truncated``. Every step is linear in the length
  (``'<think>' * 100_000`` included), so a runaway response costs bounded time.

Sanitising
----------
The SVG is parsed with entity expansion, DTD loading and network access off. These are
rejected outright: a DOCTYPE with an internal subset or any ``<!ENTITY``, more than
``LIMITS.max_depth`` levels, more than ``LIMITS.max_elements`` elements, more than
``LIMITS.max_svg_bytes`` bytes, and references that form a cycle (``use_cycle``,
``reference_cycle``) or would make cairosvg draw more than ``LIMITS.max_use_expansion``
elements (``reference_expansion``; see "References" below). A bare DOCTYPE (public/system id only, the
SVG 1.1 boilerplate models often write) is removed in the default mode and rejected in
strict mode. Removed: ``script``, ``foreignObject``, ``on*`` attributes, every ``href`` or
``url()`` that is not a local ``#id`` or a ``data:image/...`` URI, CSS ``@import``, external
``feImage``, ``<text>`` nested in ``<text>`` (browsers do not draw it; cairosvg takes
exponential time on it), ``xml:base`` and every ``xml:`` attribute but ``xml:space`` and
``xml:lang``, processing instructions, comments and elements or attributes of foreign
namespaces (editor metadata). Each action is a :class:`Finding`. A benign SVG draws the same
pixels after sanitising as before.

``data:`` URIs are decoded and checked, because cairosvg draws any image whose bytes look
like SVG (contain ``<svg`` or start with a gzip header) as SVG, whatever type the URI
declares, which would bypass every limit above. An embedded ``data:image/svg+xml`` is
sanitised in turn (what it would have had rejected is reported as ``removed``: only that
image is dropped). Any other ``data:image/...`` is kept only when its bytes are a PNG, JPEG,
GIF or WebP image (by their magic number) with no ``<svg`` in them; it is re-encoded as
base64, so what is drawn is exactly what was checked. Everything else, ``data:`` targets of
``<use>`` and ``<tref>`` included, is removed. :attr:`SanitizedSvg.embedded` lists the
sanitised embedded SVG documents, so that whatever reads the SVG's text (guards, judges) can
read the text drawn inside its images too.

References: the sanitiser sees what cairosvg follows
-----------------------------------------------------
cairosvg copies every CSS declaration (``style`` attributes and ``<style>`` rules) into the
element's attributes, so ``style="href:..."`` is a reference it follows and ``id`` from CSS
names a pattern or marker. Declarations that are not style (``href``, ``id`` and any name
holding escaped characters such as ``\\{http\\:...xlink\\}href``) are removed
(``css_not_style``). Where an element has both ``href`` and ``xlink:href``, cairosvg follows
``xlink:href`` and browsers ``href``: only ``href`` is kept (``duplicate_href``). ``<use>``,
``<image>``, ``<feImage>`` and ``<tref>`` without a target are dropped (browsers draw nothing).

The expansion count follows every reference cairosvg draws, read from attributes, ``style``
and ``<style>`` rules (matched with cssselect2, as cairosvg does) with its inheritance: a
``<use>`` draws its target; a pattern paint (``fill``/``stroke``) draws the pattern's content
each time an element is painted; a ``clip-path`` or ``mask`` draws its content per element;
a marker draws its content at every vertex; an embedded SVG image counts as everything it
draws; a text path is drawn per text element. Content that a ``<use>`` makes inherit a
reference from it is not counted; the renderer's recursion and time limits bound that case.

Values cairosvg reads with ``float()``, where a ValueError fails the whole drawing, are made
parseable or dropped as a browser ignores them (``value_normalised``, ``invalid_value``):
``opacity="50%"`` (valid CSS) becomes ``0.5``, angles with units become degrees, a junk
``stroke-miterlimit`` or ``viewBox`` is ignored. ``<style>`` rules whose selector cairosvg
cannot compile are dropped (``css_rule``), as a browser drops them.

Malformed SVG
-------------
Upstream embeds the SVG in an HTML page, and the HTML parser still draws many malformed SVGs.
In the default mode a document that is not well-formed XML is rebuilt the way the HTML
parser builds it (stray ``&`` and ``<`` kept as text, HTML named entities such as ``&nbsp;``
decoded, unquoted and duplicate attributes, end tags without a matching open element
ignored, unclosed elements closed at the end, an HTML element such as ``<div>`` ending the
SVG, and an undeclared ``xlink:`` prefix accepted), and a ``recovered`` finding records it.
``strict=True`` rejects such a document instead. Element and attribute names are
normalised as the HTML parser does (``viewbox`` becomes ``viewBox``, ``FILL`` becomes
``fill``).

What cairosvg does not draw as a browser does
---------------------------------------------
cairosvg draws the plain SVG 1.1 subset models usually write (shapes, paths, text,
transforms, gradients, patterns, clip paths, opacity) much as Chromium does, but judges and
users should know its gaps: filters are mostly ignored (``feGaussianBlur`` blur and
``feDropShadow`` shadows are not drawn, so a "soft shadow" is missing or hard-edged), masks
are approximated, bounding-box-sized patterns and ``objectBoundingBox`` units in some
places are placed differently, ``textPath`` and ``text-anchor`` on mixed ``tspan`` runs can
shift, CSS beyond simple selectors (media queries, ``var()``, ``calc()``) and animation are
ignored, and text uses the installed fonts (Liberation Sans/Serif/Mono stand in for the
generic families, as in Chromium on Linux).
"""

import base64
import html
import math
import re
import urllib.parse
from dataclasses import dataclass, replace
from typing import Literal

import cssselect2
import tinycss2
from lxml import etree

from svgkit.config import LIMITS

__all__ = [
    "SVG_NS",
    "XLINK_NS",
    "XML_NS",
    "Extraction",
    "Finding",
    "Method",
    "SanitizedSvg",
    "Severity",
    "canvas_size",
    "extract_svg",
    "natural_size",
    "raster_mime",
    "sanitize_svg",
]

#: The SVG, XLink and XML namespaces.
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: How much a finding changed: nothing, removed content, rejected the SVG, or repaired it.
Severity = Literal["info", "removed", "rejected", "recovered"]
#: Where in an answer the SVG was found (``"none"``: nowhere).
Method = Literal["fenced_svg", "fenced_xml", "fenced_html", "bare", "truncated", "none"]


# --------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Finding:
    """One thing the sanitiser noticed, removed, recovered or rejected.

    Attributes:
        code: Stable machine-readable code, e.g. ``"script"``, ``"external_href"``,
            ``"malformed_xml"``, ``"too_deep"``.
        detail: Human-readable explanation (never contains more than a short excerpt).
        severity: ``"info"`` (nothing changed), ``"removed"`` (content was stripped),
            ``"recovered"`` (malformed input was repaired) or ``"rejected"`` (nothing drawn).
    """

    code: str
    detail: str
    severity: Severity


@dataclass(frozen=True)
class Extraction:
    """Where the SVG of a response was found.

    Attributes:
        svg: The SVG text, or ``None`` when there is none or it was truncated.
        method: How it was found: ``"fenced_svg"``, ``"fenced_xml"``, ``"fenced_html"``,
            ``"bare"`` (an ``<svg>`` span in prose), ``"truncated"`` (opened, never closed)
            or ``"none"``.
        truncated: ``True`` when an ``<svg`` was opened and never closed.
        partial: The cut-off text of a truncated SVG (for display; do not draw it).
        think_removed: ``True`` when a ``<think>`` section was ignored.
        clipped: ``True`` when the response was longer than ``LIMITS.max_response_chars``
            and only its first ``LIMITS.max_response_chars`` characters were searched.
    """

    svg: str | None
    method: Method
    truncated: bool
    partial: str | None = None
    think_removed: bool = False
    clipped: bool = False


@dataclass(frozen=True)
class SanitizedSvg:
    """The result of :func:`sanitize_svg`.

    Attributes:
        svg: The cleaned, well-formed SVG, or ``None`` when rejected.
        findings: What was removed, recovered or why it was rejected, in order.
        rejected: ``True`` when the SVG must not be drawn (``svg`` is ``None``).
        recovered: ``True`` when malformed XML was repaired the way a browser draws it.
        reason: Why it was rejected (``None`` when not rejected).
        embedded: The sanitised SVG documents of the ``data:image/svg+xml`` images it draws
            (images inside those images included, depth first, each distinct one once), exactly
            as they are drawn. Text in them is part of the picture: anything that reads the
            SVG's text (a guard, a judge) should read these too (see :attr:`documents`).
    """

    svg: str | None
    findings: tuple[Finding, ...]
    rejected: bool
    recovered: bool
    reason: str | None
    embedded: tuple[str, ...] = ()

    @property
    def documents(self) -> tuple[str, ...]:
        """The SVG itself and every embedded SVG document it draws (empty when rejected)."""
        return () if self.svg is None else (self.svg, *self.embedded)

    @property
    def removed(self) -> tuple[Finding, ...]:
        """The findings that stripped something."""
        return tuple(f for f in self.findings if f.severity == "removed")


class _Rejected(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --------------------------------------------------------------------------- extraction
_THINK_START = re.compile(r"<think\b", re.I)  # an opening tag is this up to the next ">"
_THINK_CLOSE = re.compile(r"</think\s*>", re.I)
_FENCE_OPEN = re.compile(r"```([A-Za-z0-9_+-]*)")  # upstream: "```svg" anywhere
_SVG_OPEN = re.compile(r"<svg(?=[\s/>])", re.I)
_SVG_TAG = re.compile(r"<svg(?=[\s/>])|</svg\s*>", re.I)
_MAX_SPAN_TRIES = 20
_QUOTED_VALUE = re.compile(r"=\s*([\"'])")
_FENCE_KINDS: dict[str, Method] = {
    "svg": "fenced_svg", "xml": "fenced_xml", "html": "fenced_html", "xhtml": "fenced_html",
    "htm": "fenced_html",
}


def _think_open(text: str, pos: int) -> tuple[int, int] | None:
    """``(start, end)`` of the first complete ``<think ...>`` tag at or after ``pos``."""
    m = _THINK_START.search(text, pos)
    if m is None:
        return None
    gt = text.find(">", m.end())
    # No ">" after this "<think" means no later "<think" can complete a tag either.
    return None if gt < 0 else (m.start(), gt + 1)


def _strip_think(text: str) -> tuple[str, bool]:
    """Remove ``<think>...</think>`` sections; linear time on any input.

    Each ``<think ...>`` is paired with the first ``</think>`` after it. Once an opening tag
    has no closing tag after it, no later one has either, so the scan stops there. Then a
    lone ``</think>`` drops everything before it and an unclosed ``<think>`` everything after.
    """
    parts: list[str] = []
    pos = 0
    while (opened := _think_open(text, pos)) is not None:
        closed = _THINK_CLOSE.search(text, opened[1])
        if closed is None:
            break
        parts.append(text[pos: opened[0]])
        pos = closed.end()
    cleaned = "".join(parts) + text[pos:] if parts else text
    last_close = None
    for last_close in _THINK_CLOSE.finditer(cleaned):  # noqa: B007 - only the last one matters
        pass
    if last_close is not None:
        cleaned = cleaned[last_close.end():]
    opened = _think_open(cleaned, 0)
    if opened is not None:
        cleaned = cleaned[: opened[0]]
    return cleaned, cleaned != text


def _tag_end(text: str, start: int) -> int:
    """Index just past the ``>`` closing the tag that starts at ``start`` (-1 if none)."""
    pos = start + 1
    n = len(text)
    while pos < n:
        gt = text.find(">", pos)
        if gt < 0:
            return -1
        # A quote opens an attribute value only right after "=" (HTML tokenizer rule).
        m = _QUOTED_VALUE.search(text, pos, gt)
        if m is None:
            return gt + 1
        close = text.find(m.group(1), m.end())
        if close < 0:
            return -1
        pos = close + 1
    return -1


def _svg_span(text: str, begin: int = 0, end: int | None = None) -> tuple[int, int] | None | Literal[-1]:
    """Find the first ``<svg`` in ``text[begin:end]`` and its balanced close.

    Returns ``(start, stop)``, ``-1`` when an ``<svg`` opens but never closes, ``None`` when
    there is no ``<svg`` at all.
    """
    end = len(text) if end is None else end
    first = _SVG_OPEN.search(text, begin, end)
    if first is None:
        return None
    depth = 0
    pos = first.start()
    while True:
        m = _SVG_TAG.search(text, pos, end)
        if m is None:
            return -1
        if m.group(0).startswith("</"):
            depth -= 1
            pos = m.end()
            if depth == 0:
                return first.start(), pos
            continue
        tag_end = _tag_end(text, m.start())
        if tag_end < 0 or tag_end > end:
            return -1
        if text[tag_end - 2] != "/":
            depth += 1
        elif depth == 0:
            return first.start(), tag_end  # <svg .../> on its own
        pos = tag_end


def _fences(text: str) -> list[tuple[str, int, int]]:
    """``(language, content_start, content_end)`` of each ```` ```lang ```` opening, in order.

    Like upstream, every ```` ```svg ```` starts a block that runs to the next ```` ``` ````
    (or the end of the text), whether or not an earlier fence was left open.
    """
    blocks = []
    for m in _FENCE_OPEN.finditer(text):
        lang = m.group(1).lower()
        if lang not in _FENCE_KINDS:
            continue
        close = text.find("```", m.end())
        blocks.append((lang, m.end(), len(text) if close < 0 else close))
    return blocks


def extract_svg(text: str) -> Extraction:
    """Find the SVG in a model response.

    Order: the first ```` ```svg ```` fence holding a complete ``<svg`` (its whole content,
    stripped, as upstream), then the first complete ``<svg>...</svg>`` span anywhere
    (reported as ``fenced_xml`` or ``fenced_html`` when it lies in such a fence).
    ``<think>`` sections are ignored. See the module docs for the deliberate differences
    from upstream.

    Only the first ``LIMITS.max_response_chars`` characters of a longer response are read
    (``clipped=True``): an SVG beyond them is not found, and one that crosses the cut is
    reported as ``truncated``. This keeps the time spent on a runaway response bounded.

    Args:
        text: The raw chat answer. Anything that is not a string gives ``method="none"``.

    Returns:
        An :class:`Extraction`; ``svg`` is ``None`` when nothing complete was found.
    """
    if not isinstance(text, str):
        return Extraction(None, "none", False)
    clipped = len(text) > LIMITS.max_response_chars
    if clipped:
        text = text[: LIMITS.max_response_chars]
    found = _extract(text)
    return replace(found, clipped=True) if clipped else found


def _extract(text: str) -> Extraction:
    cleaned, think = _strip_think(text)
    truncated: str | None = None

    fences = _fences(cleaned)
    for lang, start, stop in fences:
        if lang != "svg":
            continue
        span = _svg_span(cleaned, start, stop)
        if span is None:
            continue
        if span == -1:
            if truncated is None:
                first = _SVG_OPEN.search(cleaned, start, stop)
                truncated = cleaned[first.start() if first else start: stop].strip()
            continue
        return Extraction(cleaned[start:stop].strip(), "fenced_svg", False, think_removed=think)

    # The first complete <svg> span; an <svg that never closes (or a mention of the tag in
    # prose) is skipped in favour of a later complete one.
    begin = 0
    for _ in range(_MAX_SPAN_TRIES):
        span = _svg_span(cleaned, begin)
        if span is None:
            break
        if span == -1:
            first = _SVG_OPEN.search(cleaned, begin)
            if truncated is None:
                truncated = cleaned[first.start():].strip()
            begin = first.start() + 4
            continue
        kind: Method = "bare"
        for lang, start, stop in fences:
            if lang != "svg" and start <= span[0] < stop:
                kind = _FENCE_KINDS[lang]
                break
        return Extraction(cleaned[span[0]: span[1]].strip(), kind, False, think_removed=think)
    if truncated is not None:
        return Extraction(None, "truncated", True, partial=truncated, think_removed=think)
    return Extraction(None, "none", False, think_removed=think)


# --------------------------------------------------------------------------- names
_SVG_TAGS = (
    "altGlyph altGlyphDef altGlyphItem animateColor animateMotion animateTransform clipPath "
    "feBlend feColorMatrix feComponentTransfer feComposite feConvolveMatrix feDiffuseLighting "
    "feDisplacementMap feDistantLight feDropShadow feFlood feFuncA feFuncB feFuncG feFuncR "
    "feGaussianBlur feImage feMerge feMergeNode feMorphology feOffset fePointLight "
    "feSpecularLighting feSpotLight feTile feTurbulence foreignObject glyphRef linearGradient "
    "radialGradient textPath"
).split()
_SVG_ATTRS = (
    "attributeName attributeType baseFrequency baseProfile calcMode clipPathUnits "
    "diffuseConstant edgeMode filterUnits glyphRef gradientTransform gradientUnits kernelMatrix "
    "kernelUnitLength keyPoints keySplines keyTimes lengthAdjust limitingConeAngle markerHeight "
    "markerUnits markerWidth maskContentUnits maskUnits numOctaves pathLength "
    "patternContentUnits patternTransform patternUnits pointsAtX pointsAtY pointsAtZ "
    "preserveAlpha preserveAspectRatio primitiveUnits refX refY repeatCount repeatDur "
    "requiredExtensions requiredFeatures specularConstant specularExponent spreadMethod "
    "startOffset stdDeviation stitchTiles surfaceScale systemLanguage tableValues targetX "
    "targetY textLength viewBox viewTarget xChannelSelector yChannelSelector zoomAndPan"
).split()
_TAG_CASE = {name.lower(): name for name in _SVG_TAGS}
_ATTR_CASE = {name.lower(): name for name in _SVG_ATTRS}
# Start tags that end SVG content in an HTML page (the "breakout" list of the HTML standard).
_BREAKOUT = frozenset(
    "b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    "li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul "
    "var".split()
)
_HTML_POINTS = frozenset({"foreignobject", "desc", "title"})
_DROP_ELEMENTS = {"script": "script", "foreignobject": "foreign_object", "handler": "script",
                  "iframe": "embedded_content", "object": "embedded_content",
                  "embed": "embedded_content"}
_ANIMATIONS = frozenset({"set", "animate", "animatemotion", "animatetransform", "animatecolor"})
_HREF_ELEMENTS = frozenset({"use", "image", "feimage", "tref"})
_TEXT_TAG = f"{{{SVG_NS}}}text"
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _tag_name(name: str) -> str:
    low = name.lower()
    return _TAG_CASE.get(low, low)


def _attr_name(name: str) -> str:
    low = name.lower()
    return _ATTR_CASE.get(low, low)


def _short(value: str, limit: int = 60) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


# --------------------------------------------------------------------------- browser-like recovery
_ATTR = re.compile(r"""[\s/]*([^\s"'<>/=][^\s"'>/=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_NAME = re.compile(r"[A-Za-z][^\s/>]*")


def _parse_attrs(inner: str) -> list[tuple[str, str]]:
    attrs: list[tuple[str, str]] = []
    seen: set[str] = set()
    pos = 0
    while pos < len(inner):
        m = _ATTR.match(inner, pos)
        if m is None or m.end() == pos:
            pos += 1
            continue
        pos = m.end()
        name, raw = m.group(1), m.group(2)
        value = "" if raw is None else raw[1:-1] if raw[:1] in "\"'" else raw
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        attrs.append((name, html.unescape(value)))
    return attrs


class _Builder:
    """Builds an lxml tree from tokens the way an HTML parser builds inline SVG."""

    def __init__(self, limits_depth: int, limits_elements: int) -> None:
        self.root: etree._Element | None = None
        self.stack: list[etree._Element] = []
        self.names: list[str] = []
        self.max_depth = limits_depth
        self.max_elements = limits_elements
        self.count = 0
        self.notes: list[str] = []
        self.done = False

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < 8:
            self.notes.append(text)

    def text(self, data: str) -> None:
        if not self.stack or not data:
            return
        data = _BAD_CHARS.sub("", data)
        parent = self.stack[-1]
        if len(parent):
            last = parent[-1]
            last.tail = (last.tail or "") + data
        else:
            parent.text = (parent.text or "") + data

    def start(self, name: str, attrs: list[tuple[str, str]], self_closing: bool) -> None:
        low = name.lower()
        if self.root is None:
            if low != "svg":
                self.note(f"content before <svg> ignored (<{_short(name, 20)}>)")
                return
        elif low in _BREAKOUT and not any(n in _HTML_POINTS for n in self.names):
            self.note(f"HTML element <{low}> ends the SVG, as in a browser")
            self.done = True
            return
        if len(self.stack) >= self.max_depth:
            raise _Rejected("too_deep", f"elements nest deeper than {self.max_depth} levels")
        self.count += 1
        if self.count > self.max_elements:
            raise _Rejected("too_many_elements", f"more than {self.max_elements} elements")
        tag = _tag_name(name)
        try:
            if ":" in tag:
                raise ValueError(tag)
            element = etree.Element(f"{{{SVG_NS}}}{tag}") if self.root is None else etree.SubElement(
                self.stack[-1], f"{{{SVG_NS}}}{tag}")
        except ValueError:
            # Not an SVG element a browser would draw: keep a placeholder that the cleaner drops.
            element = etree.SubElement(self.stack[-1], "{urn:svgkit:unknown}element")
        for attr, value in attrs:
            low_attr = attr.lower()
            try:
                if low_attr == "xmlns" or low_attr.startswith("xmlns:"):
                    continue
                if low_attr.startswith("xlink:"):
                    element.set(f"{{{XLINK_NS}}}{low_attr[6:]}", _BAD_CHARS.sub("", value))
                elif low_attr.startswith("xml:"):
                    element.set(f"{{{XML_NS}}}{low_attr[4:]}", _BAD_CHARS.sub("", value))
                elif ":" not in attr:
                    element.set(_attr_name(attr), _BAD_CHARS.sub("", value))
            except ValueError:
                self.note(f"unusable attribute {_short(attr, 20)!r} dropped")
        if self.root is None:
            self.root = element
        if not self_closing:
            self.stack.append(element)
            self.names.append(low)
        elif self.root is element:
            self.done = True

    def end(self, name: str) -> None:
        low = name.lower()
        for i in range(len(self.names) - 1, -1, -1):
            if self.names[i] == low:
                if i != len(self.names) - 1:
                    self.note(f"</{low}> closed unclosed <{self.names[-1]}>")
                del self.stack[i:], self.names[i:]
                if not self.stack:
                    self.done = True
                return
        if self.root is not None:
            self.note(f"stray </{_short(low, 20)}> ignored")


def _recover(svg: str) -> tuple[etree._Element, list[str]]:
    """Tokenise ``svg`` as an HTML parser would and build the tree it would draw."""
    builder = _Builder(LIMITS.max_depth, LIMITS.max_elements)
    pos = 0
    n = len(svg)
    while pos < n and not builder.done:
        lt = svg.find("<", pos)
        if lt < 0:
            builder.text(html.unescape(svg[pos:]))
            break
        if lt > pos:
            builder.text(html.unescape(svg[pos:lt]))
        nxt = svg[lt + 1: lt + 2]
        if svg.startswith("<!--", lt):
            close = svg.find("-->", lt + 4)
            pos = n if close < 0 else close + 3
        elif svg.startswith("<![CDATA[", lt):
            close = svg.find("]]>", lt + 9)
            stop = n if close < 0 else close
            builder.text(svg[lt + 9: stop])
            pos = n if close < 0 else close + 3
        elif nxt in ("!", "?"):
            close = svg.find(">", lt + 2)
            pos = n if close < 0 else close + 1
        elif nxt == "/":
            m = _NAME.match(svg, lt + 2)
            close = svg.find(">", lt + 2)
            if close < 0:
                break
            if m:
                builder.end(m.group(0))
            pos = close + 1
        elif nxt.isalpha():
            m = _NAME.match(svg, lt + 1)
            stop = _tag_end(svg, lt)
            if m is None or stop < 0:
                builder.note("a tag cut off at the end was dropped")
                break
            inner = svg[m.end(): stop - 1]
            self_closing = inner.rstrip().endswith("/")
            builder.start(m.group(0), _parse_attrs(inner.rstrip().rstrip("/")), self_closing)
            pos = stop
        else:
            builder.text("<")
            pos = lt + 1
    if builder.root is None:
        raise _Rejected("not_svg", "no <svg> element found")
    if builder.stack and not builder.done:
        builder.note(f"{len(builder.stack)} unclosed element(s) closed at the end")
    elif pos < n and svg[pos:].strip() and builder.done and not builder.notes:
        builder.note("content after </svg> ignored")
    return builder.root, builder.notes


# --------------------------------------------------------------------------- URL and CSS checks
_URL_FUNC = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_URL_FUNCTIONS = frozenset({"url", "src", "image", "image-set", "-webkit-image-set", "cross-fade"})


def _url_kind(target: str) -> Literal["local", "data_image", "data_svg", "external"]:
    target = target.strip()
    low = target.lower()
    if target.startswith("#"):
        return "local"
    if low.startswith("data:image/svg+xml"):
        return "data_svg"
    if low.startswith("data:image/"):
        return "data_image"
    return "external"


_RASTER_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                 (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def raster_mime(data: bytes) -> str | None:
    """The type of a PNG, JPEG, GIF or WebP image cairosvg will draw as a raster, else None.

    cairosvg parses an image as SVG when its bytes contain ``<svg`` or start with a gzip
    header (whatever its declared type), so such bytes are never a raster image here.

    Args:
        data: The image's bytes (e.g. a decoded ``data:`` URI).

    Returns:
        ``"image/png"``, ``"image/jpeg"``, ``"image/gif"``, ``"image/webp"`` or ``None``.
    """
    if data.startswith(b"\x1f\x8b") or b"<svg" in data.lower():
        return None
    for magic, mime in _RASTER_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _decode_data_uri(uri: str) -> tuple[str, bytes] | None:
    """``(media type, bytes)`` of a ``data:`` URI, or None when it does not decode."""
    header, comma, payload = uri.strip().partition(",")
    if not comma or header[:5].lower() != "data:":
        return None
    params = [p.strip().lower() for p in header[5:].split(";")]
    try:
        if params[-1] == "base64":
            data = base64.b64decode(re.sub(r"\s+", "", urllib.parse.unquote(payload)), validate=True)
        else:
            data = urllib.parse.unquote_to_bytes(payload)
    except ValueError:
        return None
    return params[0], data


def _css_urls(tokens) -> list[str]:
    """Every URL that a CSS token list references."""
    found: list[str] = []
    stack = list(tokens or ())
    while stack:
        token = stack.pop()
        kind = getattr(token, "type", None)
        if kind == "url":
            found.append(token.value)
        elif kind == "function":
            if token.lower_name in _URL_FUNCTIONS:
                found.extend(t.value for t in token.arguments if getattr(t, "type", None) == "string")
            stack.extend(token.arguments)
        elif kind in ("() block", "[] block", "{} block"):
            stack.extend(token.content)
        elif kind == "error" and getattr(token, "kind", "") == "bad-url":
            found.append("bad-url")
        elif kind in ("declaration", "qualified-rule", "at-rule"):
            stack.extend(getattr(token, "value", None) or ())
            stack.extend(getattr(token, "prelude", None) or ())
            stack.extend(getattr(token, "content", None) or ())
    return found


def _css_url_allowed(url: str) -> bool:
    """A CSS ``url()`` may name a local ``#id`` or hold a ``data:`` raster image."""
    kind = _url_kind(url)
    if kind == "data_image":
        decoded = _decode_data_uri(url)
        return decoded is not None and raster_mime(decoded[1]) is not None
    return kind == "local"


_FRACTIONS = frozenset({"opacity", "fill-opacity", "stroke-opacity", "stop-opacity", "flood-opacity"})
#: Values cairosvg reads with ``float()`` (a ValueError there fails the whole drawing).
_NUMERIC_VALUES = _FRACTIONS | {"stroke-miterlimit", "orient", "rotate", "viewBox"}
_ANGLE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(deg|grad|rad|turn)?", re.I)
_ANGLE_UNITS = {"": 1.0, "deg": 1.0, "grad": 0.9, "rad": 180 / math.pi, "turn": 360.0}


def _fix_number(name: str, value: str) -> str | None:
    """``value`` as cairosvg can parse it (unchanged when it already can), or None when invalid."""
    text = value.strip()
    try:
        if name in _FRACTIONS:
            number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
            return value if not text.endswith("%") else f"{number:g}"
        if name == "stroke-miterlimit":
            float(text)
            return value
        if name == "viewBox":
            parts = [p for p in re.split(r"[\s,]+", text) if p]
            return value if len(parts) == 4 and all(math.isfinite(float(p)) for p in parts) else None
        if name == "orient" and text in ("auto", "auto-start-reverse"):
            return value
        angles = [_ANGLE.fullmatch(p) for p in re.split(r"[\s,]+", text) if p]
        if not angles or not all(angles) or (name == "orient" and len(angles) != 1):
            return None
        degrees = [float(m.group(1)) * _ANGLE_UNITS[(m.group(2) or "").lower()] for m in angles]
        if not any(m.group(2) for m in angles):
            return value
        return " ".join(f"{d:g}" for d in degrees)
    except ValueError:
        return None


# A style attribute or sheet needs a full parse when it may hold a URL, an escape, an at-rule,
# a nested rule, a comment (which can hide a name) or a declaration that is not style.
_CSS_NEEDS_PARSE = re.compile(r"[(\\@{}]|/\*|href|\bid\s*:|opacity|miterlimit|orient|rotate", re.I)
_CSS_PROPERTY = re.compile(r"-{0,2}[a-z_][a-z0-9_-]*")
#: Declarations cairosvg copies into an element's attributes that are not style: it follows
#: ``href`` from CSS as it does the attribute, and registers patterns and markers by ``id``.
_CSS_NOT_STYLE = frozenset({"href", "id"})


def _css_is_style(name: str) -> bool:
    """Whether a (lower-cased, unescaped) CSS declaration name may be kept.

    Escapes let a name hold any character: ``\\{http\\:...xlink\\}href`` is the name cairosvg
    stores as the ``xlink:href`` attribute. Only plain property names are style.
    """
    return name not in _CSS_NOT_STYLE and _CSS_PROPERTY.fullmatch(name) is not None


def _css_safe(tokens) -> str | None:
    """The first URL in ``tokens`` that is not allowed (see :func:`_css_url_allowed`)."""
    return next((url for url in _css_urls(tokens) if not _css_url_allowed(url)), None)


class _Cleaner:
    """Copies a parsed SVG tree into a fresh one, keeping only what is safe to draw."""

    def __init__(self, *, nesting: int) -> None:
        self.findings: list[Finding] = []
        self.nesting = nesting
        self.count = 0
        #: The sanitised documents of embedded SVG images (nested ones included), in order.
        self.embedded: list[str] = []
        #: How many elements each embedded image (by its cleaned data: URI) draws.
        self.nested_weights: dict[str, int] = {}

    def add(self, code: str, detail: str, severity: Severity = "removed") -> None:
        # Keep the list short: the same code is reported once per distinct detail, at most 5 times.
        same = [f for f in self.findings if f.code == code]
        if len(same) < 5 and all(f.detail != detail for f in same):
            self.findings.append(Finding(code, detail, severity))

    # ---- CSS
    def clean_declarations(self, css: str, where: str) -> str:
        if not _CSS_NEEDS_PARSE.search(css):
            return css
        # The parser cairosvg reads style attributes and rule bodies with (no CSS nesting).
        declarations = tinycss2.parse_declaration_list(css, skip_comments=True, skip_whitespace=True)
        kept, changed = [], False
        for decl in declarations:
            if decl.type == "declaration" and not _css_is_style(decl.lower_name):
                # cairosvg copies every declaration into the element's attributes: from CSS,
                # "href" is a reference it follows and "id" names a pattern or marker.
                self.add("css_not_style", f"{where}: {_short(decl.lower_name, 40)} is not a style property, removed")
            elif decl.type == "declaration":
                bad = _css_safe(decl.value)
                if bad is None and decl.lower_name in _NUMERIC_VALUES:
                    value = tinycss2.serialize(decl.value).strip()
                    fixed = self.fix_number(decl.lower_name, value, where)
                    if fixed == value:
                        kept.append(tinycss2.serialize([decl]))
                        continue
                    if fixed is not None:
                        kept.append(f"{decl.name}:{fixed}" + (" !important" if decl.important else ""))
                elif bad is None:
                    kept.append(tinycss2.serialize([decl]))
                    continue
                else:
                    self.add("css_external_url", f"{where}: {decl.lower_name} with url {_short(bad)!r}")
            elif decl.type == "at-rule":
                self.add("css_import" if decl.lower_at_keyword == "import" else "css_at_rule",
                         f"{where}: @{decl.lower_at_keyword} removed")
            changed = True
        if not changed:
            return css
        return "; ".join(kept)

    def clean_stylesheet(self, css: str) -> str:
        # Always parsed: any rule may have a selector that would fail the whole drawing.
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        out, changed = [], False
        for rule in rules:
            if rule.type == "at-rule":
                if rule.lower_at_keyword == "import":
                    self.add("css_import", f"@import {_short(tinycss2.serialize(rule.prelude))} removed")
                    changed = True
                    continue
                bad = _css_safe([rule])
                if bad is not None:
                    self.add("css_external_url", f"@{rule.lower_at_keyword} with url {_short(bad)!r} removed")
                    changed = True
                    continue
                out.append(tinycss2.serialize([rule]))
            elif rule.type == "qualified-rule":
                try:
                    cssselect2.compile_selector_list(rule.prelude)
                except cssselect2.SelectorError:
                    # cairosvg would fail the whole drawing; a browser drops the rule.
                    self.add("css_rule", f"<style> rule {_short(tinycss2.serialize(rule.prelude), 40)!r} "
                             "has a selector the renderer does not understand: removed", "info")
                    changed = True
                    continue
                body = tinycss2.serialize(rule.content)
                cleaned = self.clean_declarations(body, "<style>")
                changed = changed or cleaned != body
                out.append(tinycss2.serialize(rule.prelude) + "{" + cleaned + "}")
            else:
                changed = True
        return "\n".join(out) if changed else css

    def fix_number(self, name: str, value: str, where: str) -> str | None:
        """A value cairosvg parses with ``float()`` made parseable, or None to drop it.

        cairosvg fails the whole drawing on ``opacity="50%"`` (valid CSS), ``orient="45deg"``
        or a junk number, where a browser draws the percentage or ignores the junk.
        """
        fixed = _fix_number(name, value)
        if fixed is None:
            self.add("invalid_value", f"{where} {name}={_short(value, 30)!r} is not valid: ignored, as a browser does",
                     "info")
        elif fixed != value:
            self.add("value_normalised", f"{where} {name}={_short(value, 30)!r} drawn as {_short(fixed, 30)!r}", "info")
        return fixed

    # ---- attributes
    def clean_href(self, element_name: str, value: str) -> str | None:
        kind = _url_kind(value)
        if kind == "local":
            return value.strip()
        if kind == "external":
            self.add("external_href", f"<{element_name}> href {_short(value)!r}")
            return None
        if element_name in ("use", "tref"):
            # cairosvg would load the URI as a whole document, outside every <use> limit.
            self.add("data_href", f"<{element_name}> href to a data: URI removed (only #id is drawn)")
            return None
        if kind == "data_svg":
            return self.clean_data_svg(value.strip())
        return self.clean_data_image(element_name, value)

    def clean_data_image(self, element_name: str, uri: str) -> str | None:
        decoded = _decode_data_uri(uri)
        mime = None if decoded is None else raster_mime(decoded[1])
        if decoded is None or mime is None:
            declared = uri.strip()[5:].split(",", 1)[0].split(";", 1)[0]
            self.add("bad_data_image", f"<{element_name}> {_short(declared, 40)} data that is not a "
                     "PNG, JPEG, GIF or WebP image removed")
            return None
        return f"data:{mime};base64," + base64.b64encode(decoded[1]).decode("ascii")

    def clean_data_svg(self, uri: str) -> str | None:
        if self.nesting >= LIMITS.max_nested_svg_images:
            self.add("nested_svg_image", "SVG image nested too deeply removed")
            return None
        header, _, payload = uri.partition(",")
        try:
            if header.lower().endswith(";base64"):
                raw = base64.b64decode(re.sub(r"\s+", "", payload), validate=True).decode("utf-8")
            else:
                raw = urllib.parse.unquote(payload)
        except (ValueError, UnicodeDecodeError):
            self.add("nested_svg_image", "undecodable data:image/svg+xml removed")
            return None
        inner, weight = _sanitize_counted(raw, strict=False, nesting=self.nesting + 1)
        for finding in inner.findings:
            # A rejected image is only removed: the outer SVG is still drawn.
            severity: Severity = "removed" if finding.severity == "rejected" else finding.severity
            self.add(finding.code, f"in embedded SVG image: {finding.detail}", severity)
        if inner.svg is None:
            self.add("nested_svg_image", f"embedded SVG image rejected: {inner.reason}")
            return None
        cleaned = "data:image/svg+xml;base64," + base64.b64encode(inner.svg.encode()).decode("ascii")
        self.nested_weights[cleaned] = weight
        for doc in (inner.svg, *inner.embedded):
            if doc not in self.embedded:
                self.embedded.append(doc)
        return cleaned

    def clean_attrs(self, src: etree._Element, dst: etree._Element, name: str) -> bool:
        """Copy safe attributes; return False when the element lost a needed href."""
        href_dropped = False
        # With both, cairosvg follows xlink:href and browsers (SVG 2) href: keep href alone.
        plain = None
        if f"{{{XLINK_NS}}}href" in src.attrib:
            plain = next((v for q, v in src.attrib.items() if not q.startswith("{") and q.lower() == "href"), None)
        for qname, value in src.attrib.items():
            if qname.startswith("{"):
                ns, local = qname[1:].split("}", 1)
            else:
                ns, local = "", qname
            if ns == XLINK_NS and local == "href" and plain is not None:
                same = value.strip() == plain.strip()
                self.add("duplicate_href", f"<{name}> xlink:href {_short(value, 40)!r} beside href "
                         + ("(the same) dropped" if same else "removed: href wins, as in browsers"),
                         "info" if same else "removed")
                continue
            if ns == XLINK_NS and local == "href" or not ns and local.lower() == "href":
                cleaned = self.clean_href(name, value)
                if cleaned is None:
                    href_dropped = True
                else:
                    dst.set(f"{{{XLINK_NS}}}href" if ns else "href", cleaned)
                continue
            if ns == XML_NS and local not in ("space", "lang"):
                # xml:base would resolve relative references against any URL.
                self.add("xml_base" if local == "base" else "xml_attribute",
                         f"<{name}> xml:{_short(local, 20)}={_short(value)!r} removed")
                continue
            if ns == XLINK_NS or ns == XML_NS:
                dst.set(qname, value)
                continue
            if ns:
                continue  # editor metadata (inkscape:, sodipodi:, ...): never drawn
            attr = _attr_name(local)
            if attr.startswith("on"):
                self.add("event_handler", f"<{name}> {attr} attribute")
                continue
            if attr == "style":
                value = self.clean_declarations(value, f"<{name}> style")
            elif attr in _NUMERIC_VALUES:
                fixed = self.fix_number(attr, value, f"<{name}>")
                if fixed is None:
                    continue
                value = fixed
            elif "(" in value and ("url" in value.lower() or "\\" in value):
                bad = _css_safe(tinycss2.parse_component_value_list(value))
                if bad is None:
                    bad = next((m.group(2) for m in _URL_FUNC.finditer(value)
                                if not _css_url_allowed(m.group(2))), None)
                if bad is not None:
                    self.add("external_url", f"<{name}> {attr}={_short(value)!r}")
                    continue
            dst.set(attr, value)
        return not href_dropped

    # ---- tree
    def copy(self, src_root: etree._Element) -> etree._Element:
        root_name = etree.QName(src_root).localname.lower()
        if root_name != "svg" or etree.QName(src_root).namespace not in (None, SVG_NS):
            raise _Rejected("not_svg", f"the root element is <{_short(root_name, 20)}>, not <svg>")
        dst_root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS, "xlink": XLINK_NS})
        self.clean_attrs(src_root, dst_root, "svg")
        dst_root.text = src_root.text
        stack = [(src_root, dst_root, 1, False)]
        while stack:
            src, dst, depth, in_text = stack.pop()
            prev: etree._Element | None = None
            for child in src:
                keep = self.copy_child(child, dst, depth + 1, in_text)
                if keep is not None:
                    keep.tail = child.tail
                    prev = keep
                    if len(child):
                        stack.append((child, keep, depth + 1, in_text or keep.tag == _TEXT_TAG))
                elif child.tail:
                    if prev is not None:
                        prev.tail = (prev.tail or "") + child.tail
                    else:
                        dst.text = (dst.text or "") + child.tail
        return dst_root

    def copy_child(self, child, parent: etree._Element, depth: int, in_text: bool) -> etree._Element | None:
        if not isinstance(child.tag, str):
            return None  # comment, processing instruction, entity
        self.count += 1
        if self.count > LIMITS.max_elements:
            raise _Rejected("too_many_elements", f"more than {LIMITS.max_elements} elements")
        if depth > LIMITS.max_depth:
            raise _Rejected("too_deep", f"elements nest deeper than {LIMITS.max_depth} levels")
        qname = etree.QName(child)
        if qname.namespace not in (None, SVG_NS):
            if qname.namespace != "urn:svgkit:unknown":
                self.add("foreign_namespace", f"<{_short(qname.localname, 30)}> of {_short(qname.namespace, 50)}",
                         "info")
            return None
        low = qname.localname.lower()
        if low in _DROP_ELEMENTS:
            self.add(_DROP_ELEMENTS[low], f"<{qname.localname}> removed")
            return None
        name = _tag_name(qname.localname)
        if low == "text" and in_text:
            # Browsers draw no <text> inside <text>; cairosvg would take exponential time on it.
            self.add("nested_text", "<text> inside <text> removed (browsers do not draw it)")
            return None
        if low in _ANIMATIONS:
            target = (child.get("attributeName") or child.get("attributename") or "").lower()
            if "href" in target or target.startswith("on") or target == "style":
                self.add("animation", f"<{name} attributeName={target!r}> removed")
                return None
        dst = etree.SubElement(parent, f"{{{SVG_NS}}}{name}")
        kept_href = self.clean_attrs(child, dst, name)
        if low in _HREF_ELEMENTS and (not kept_href or dst.get("href") is None
                                      and dst.get(f"{{{XLINK_NS}}}href") is None):
            # Without a target it draws nothing in a browser; cairosvg would try to read a file.
            parent.remove(dst)
            return None
        text = child.text
        if low == "style" and text:
            text = self.clean_stylesheet(text)
        dst.text = text
        return dst


# --------------------------------------------------------------------------- references
# What cairosvg 2.9 follows, and how often it draws the target (parser.py, defs.py, surface.py,
# path.py, text.py, image.py):
# - ``href`` (``xlink:href`` first; the sanitiser keeps one) on <use> and <tref>: the first
#   element with that XML id, drawn once per use; on <text>/<tspan>/<textPath>/<a> (and the
#   children of such an element): a path, clip path or text path drawn for each of them; on
#   patterns and gradients: the pattern or gradient whose content and attributes it inherits;
#   on <image>: an embedded SVG document, drawn as a whole.
# - ``fill``/``stroke`` ``url(...#id)``: a pattern's content, drawn every time an element is
#   painted with it; ``clip-path`` (a clip path or any path) and ``mask``: drawn once per
#   element; ``marker``/``marker-start|mid|end``: the marker's content, drawn at every vertex.
#   Any URL counts by its fragment (``url(x.svg#p)`` is ``#p``), and so does a bare ``#id``.
# - Those values come from attributes, ``style`` and ``<style>`` rules alike (cairosvg merges
#   them); fill, stroke and markers are inherited from the parent in the document tree (so the
#   content of a pattern inherits from the pattern's ancestors, not from the element painted).
# - Definitions are registered by id in one table per kind (patterns, markers, masks, paths)
#   during the draw, the last one winning, so every candidate counts (the heaviest one).
_INHERITED_REFS = ("fill", "stroke", "marker", "marker-start", "marker-mid", "marker-end")
_REF_PROPERTIES = frozenset({*_INHERITED_REFS, "clip-path", "mask"})
#: Elements cairosvg fills and strokes: a pattern paint draws the pattern's content each time.
#: Definitions are drawn as plain groups (cairosvg renames them ``g`` first), so they paint nothing.
_PAINTED = frozenset("a circle ellipse image line path polygon polyline rect svg text textPath tspan use".split())
_MARKED = frozenset({"path", "line", "polyline", "polygon"})
_TEXT_HREF = frozenset({"a", "text", "textPath", "tspan"})
_PAINT_URL = re.compile(r"(url\(.+\)) *(.*)")  # cairosvg.helpers.PAINT_URL
_URL_IN = re.compile(r"url\((.+)\)")  # cairosvg.url.URL
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PATH_CLOSE = re.compile(r"[zZ]")
_MAY_REFERENCE = re.compile(r"url|#|inherit", re.I)
_SVG_TAG_START = len(f"{{{SVG_NS}}}")  # every element of a sanitised tree is in the SVG namespace


def _fragment(value: str) -> str:
    """The id cairosvg takes from a reference (its ``parse_url(value).fragment``)."""
    m = _URL_IN.search(value)
    url = (m.group(1) if m else value).strip("'\"")
    try:
        return urllib.parse.urlparse(url).fragment
    except ValueError:
        return ""


def _vertices(element: etree._Element, tag: str) -> int:
    """At least as many as the vertices cairosvg puts markers on."""
    if tag == "line":
        return 2
    data = element.get("points" if tag in ("polyline", "polygon") else "d") or ""
    return len(_NUMBER.findall(data)) // 2 + len(_PATH_CLOSE.findall(data)) + 1


def _is_reference(name: str, value: str) -> bool:
    if value == "inherit":
        return True
    if name in ("fill", "stroke"):
        return _PAINT_URL.search(value.strip()) is not None
    return bool(_fragment(value))


def _declarations(css) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(normal, important)`` declarations that reference an element, as cairosvg reads them.

    Mirrors cairosvg's ``css.parse_declarations``; other declarations are left out (keeping an
    inherited reference they would override can only count more, never less).
    """
    normal: list[tuple[str, str]] = []
    important: list[tuple[str, str]] = []
    for decl in tinycss2.parse_declaration_list(css):
        if decl.type == "declaration" and decl.lower_name in _REF_PROPERTIES:
            value = tinycss2.serialize(decl.value).strip()
            if _is_reference(decl.lower_name, value):
                (important if decl.important else normal).append((decl.lower_name, value))
    return normal, important


def _style_matchers(root: etree._Element):
    """cssselect2 matchers (normal, important) of the ``<style>`` rules that set a reference.

    Built the way cairosvg's ``css.parse_stylesheets`` builds them; ``None`` when no rule does.
    """
    sheets = [el.text for el in root.iter(f"{{{SVG_NS}}}style")
              if el.text and el.get("type", "text/css") == "text/css" and _MAY_REFERENCE.search(el.text)]
    if not sheets:
        return None
    normal, important = cssselect2.Matcher(), cssselect2.Matcher()
    found = False
    for css in sheets:
        for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
            if rule.type != "qualified-rule":
                continue
            decls = _declarations(rule.content)
            if not decls[0] and not decls[1]:
                continue
            try:
                selectors = cssselect2.compile_selector_list(rule.prelude)
            except cssselect2.SelectorError:
                continue  # the sanitiser has removed such rules already
            for selector in selectors:
                if selector.pseudo_element is None and not selector.never_matches:
                    for matcher, found_decls in zip((normal, important), decls, strict=True):
                        if found_decls:
                            matcher.add_selector(selector, found_decls)
                            found = True
    return (normal, important) if found else None


class _Refs:
    """Every reference cairosvg will follow in one sanitised document, as a weighted graph."""

    def __init__(self, root: etree._Element, nested: dict[str, int]) -> None:
        self.elements = list(root.iter())
        self.index = {id(el): i for i, el in enumerate(self.elements)}
        self.first_id: dict[str, int] = {}
        self.all_ids: dict[str, list[int]] = {}
        for i, el in enumerate(self.elements):
            key = el.get("id")
            if key:
                self.first_id.setdefault(key, i)
                self.all_ids.setdefault(key, []).append(i)
        self.nested = nested
        # Per element: its own weight (1, or an embedded document's) and its references,
        # each ``(candidate element indices, multiplicity, via <use>)``.
        self.base = [1] * len(self.elements)
        self.refs: list[list[tuple[tuple[int, ...], int, bool]]] = [[] for _ in self.elements]
        self.subtree_end = [0] * len(self.elements)
        self.target_cache: dict[tuple[str, str], tuple[int, ...]] = {}
        self._collect(root)

    def _targets(self, value: str, kind: str) -> tuple[int, ...]:
        found = self.target_cache.get((value, kind))
        if found is None:
            found = tuple(i for i in self.all_ids.get(_fragment(value), ())
                          if kind in self.elements[i].tag[_SVG_TAG_START:].lower())
            self.target_cache[(value, kind)] = found
        return found

    def _collect(self, root: etree._Element) -> None:
        matchers = _style_matchers(root)
        wrappers = list(cssselect2.ElementWrapper.from_xml_root(root).iter_subtree()) if matchers else None
        # Depth first, parents before children: inherited references flow from parent to child
        # (the same dict is shared down the tree until an element changes it).
        stack: list[tuple[etree._Element, dict[str, str], dict[str, str]]] = [(root, {}, {})]
        while stack:
            el, inherited, parent = stack.pop()
            i = self.index[id(el)]
            declared = [(k, el.get(k)) for k in el.keys() if k in _REF_PROPERTIES]
            style = el.get("style")
            own = _declarations(style) if style and _MAY_REFERENCE.search(style) else None
            matched = None
            if matchers is not None:
                matched = tuple([d for rule in m.match(wrappers[i]) for d in rule[-1]] for m in matchers)
            props = inherited
            if declared or own or matched:
                props = dict(inherited)
                props.update(declared)
                for declarations in (matched[0] if matched else (), own[0] if own else (),
                                     matched[1] if matched else (), own[1] if own else ()):  # cairosvg's order
                    props.update(declarations)
                for key in [k for k, v in props.items() if v == "inherit"]:
                    if key in parent:  # the parent's value, inherited property or not
                        props[key] = parent[key]
                    else:
                        del props[key]
            self._element_refs(i, el, props)
            if len(el):
                down = props if "clip-path" not in props and "mask" not in props else {
                    k: v for k, v in props.items() if k in _INHERITED_REFS}
                stack.extend((child, down, props) for child in reversed(el))
        # Elements are in document order: a subtree ends where its last child's subtree ends.
        for i in range(len(self.elements) - 1, -1, -1):
            el = self.elements[i]
            self.subtree_end[i] = self.subtree_end[self.index[id(el[-1])]] if len(el) else i + 1

    def _element_refs(self, i: int, el: etree._Element, props: dict[str, str]) -> None:
        tag = el.tag[_SVG_TAG_START:]
        refs = self.refs[i]
        href = el.get(f"{{{XLINK_NS}}}href", el.get("href"))  # cairosvg's get_href()
        if href:
            href = href.strip()
            if tag in ("use", "tref"):
                target = self.first_id.get(_fragment(href)) if href.startswith("#") else None
                if target is not None:
                    refs.append(((target,), 1, True))
            elif tag == "image":
                self.base[i] += self.nested.get(href, 0)
            elif tag == "pattern":
                refs.append((self._targets(href, "pattern"), 1, False))
            elif "gradient" not in tag.lower():
                # A text path: drawn for a text element and for each child that falls back on
                # its parent's href.
                refs.append((self._targets(href, "path"), (tag in _TEXT_HREF) + len(el), False))
        if not props:
            return
        if tag in _PAINTED:
            for key in ("fill", "stroke"):
                value = props.get(key)
                if value and _PAINT_URL.search(value.strip()):
                    refs.append((self._targets(value.strip(), "pattern"), 1, False))
        if tag in _MARKED and any(props.get(k) for k in _INHERITED_REFS[2:]):
            vertices = _vertices(el, tag)
            for key in _INHERITED_REFS[2:]:
                if props.get(key):
                    refs.append((self._targets(props[key], "marker"), vertices, False))
        for key, kind in (("clip-path", "path"), ("mask", "mask")):
            if props.get(key):
                refs.append((self._targets(props[key], kind), 1, False))

    def check(self, limit: int) -> int:
        """The number of elements cairosvg draws; raise ``_Rejected`` on a cycle or past ``limit``."""
        weight: dict[int, int] = {}
        state: dict[int, int] = {}  # 1 = being computed, 2 = done

        def deps(t: int) -> list[tuple[tuple[int, ...], int, bool]]:
            return [ref for j in range(t, self.subtree_end[t]) for ref in self.refs[j] if ref[0]]

        stack: list[tuple[int, list]] = [(0, deps(0))]
        state[0] = 1
        while stack:
            t, t_deps = stack[-1]
            pending = None
            for targets, _mult, via_use in t_deps:
                for u in targets:
                    if state.get(u) == 1:
                        code, what = ("use_cycle", "<use> references") if via_use else ("reference_cycle", "references")
                        name = _short(self.elements[u].get("id") or "", 30)
                        raise _Rejected(code, f"{what} form a cycle through #{name}")
                    if u not in state:
                        pending = u
                        break
                if pending is not None:
                    break
            if pending is not None:
                state[pending] = 1
                stack.append((pending, deps(pending)))
                continue
            stack.pop()
            total = sum(self.base[t:self.subtree_end[t]])
            for targets, mult, _via_use in t_deps:
                total += mult * max(weight[u] for u in targets)
                if total > limit:
                    break
            weight[t] = min(total, limit + 1)
            state[t] = 2
        return weight[0]


def _check_references(root: etree._Element, nested: dict[str, int]) -> int:
    """How many elements cairosvg will draw, every reference expanded (see :class:`_Refs`).

    Raises ``_Rejected`` when references form a cycle or the count exceeds
    ``LIMITS.max_use_expansion``.
    """
    limit = LIMITS.max_use_expansion
    total = _Refs(root, nested).check(limit)
    if total > limit:
        raise _Rejected("reference_expansion", f"references (<use>, patterns, markers, clip paths, masks, "
                        f"embedded images) would draw more than {limit:,} elements")
    return total


# --------------------------------------------------------------------------- sanitise
_XML_DECL = re.compile(r"^\s*<\?xml\b[^>]*\?>", re.I)
_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.I)
_BARE_DOCTYPE = re.compile(r"<!DOCTYPE\s+[^\[>]*>", re.I)
_ENTITY = re.compile(r"<!ENTITY\b", re.I)
_STYLESHEET_PI = re.compile(r"<\?xml-stylesheet\b", re.I)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )


def _sanitize_counted(svg: str, *, strict: bool, nesting: int = 0) -> tuple[SanitizedSvg, int]:
    """:func:`sanitize_svg` plus how many elements cairosvg draws for it (0 when rejected)."""
    findings: list[Finding] = []
    recovered = False
    try:
        if not isinstance(svg, str):
            raise _Rejected("not_svg", f"expected SVG text, got {type(svg).__name__}")
        size = len(svg.encode("utf-8", "surrogatepass"))
        if size > LIMITS.max_svg_bytes:
            raise _Rejected("too_large", f"{size:,} bytes is more than the {LIMITS.max_svg_bytes:,} allowed")
        text = svg.lstrip("\ufeff")
        if _ENTITY.search(text):
            raise _Rejected("entity", "entity declarations (<!ENTITY) are not allowed")
        if _DOCTYPE.search(text):
            bare = _BARE_DOCTYPE.search(text)
            if bare is None or "[" in text[bare.start(): bare.end() + 1]:
                raise _Rejected("doctype", "a DOCTYPE with an internal subset is not allowed")
            if strict:
                raise _Rejected("doctype", "DOCTYPE declarations are not allowed in strict mode")
            text = text[: bare.start()] + text[bare.end():]
            findings.append(Finding("doctype", "bare DOCTYPE removed (nothing was loaded)", "removed"))
            if _DOCTYPE.search(text):
                raise _Rejected("doctype", "more than one DOCTYPE")
        if _STYLESHEET_PI.search(text):
            findings.append(Finding("processing_instruction", "<?xml-stylesheet?> removed", "removed"))
        text = _XML_DECL.sub("", text, count=1)
        if not text.strip():
            raise _Rejected("empty", "the SVG is empty")
        try:
            root = etree.fromstring(text, _parser())
        except etree.XMLSyntaxError as exc:
            message = _short(re.sub(r"\s*\(<string>, line \d+\)", "", str(exc)), 120)
            if "depth" in message.lower():
                raise _Rejected("too_deep", f"elements nest deeper than {LIMITS.max_depth} levels") from None
            if strict:
                raise _Rejected("invalid_xml", f"not well-formed XML: {message}") from None
            root, notes = _recover(text)
            recovered = True
            detail = f"not well-formed XML ({message}); drawn as a browser would"
            if notes:
                detail += ": " + "; ".join(notes)
            findings.append(Finding("malformed_xml", detail, "recovered"))
        cleaner = _Cleaner(nesting=nesting)
        clean_root = cleaner.copy(root)
        findings.extend(cleaner.findings)
        weight = _check_references(clean_root, cleaner.nested_weights)
        out = etree.tostring(clean_root, encoding="unicode")
    except _Rejected as exc:
        findings.append(Finding(exc.code, exc.detail, "rejected"))
        return SanitizedSvg(None, tuple(findings), True, recovered, exc.detail), 0
    except (ValueError, TypeError, etree.LxmlError, RecursionError, MemoryError) as exc:
        detail = f"could not be processed: {_short(str(exc) or type(exc).__name__, 120)}"
        findings.append(Finding("unprocessable", detail, "rejected"))
        return SanitizedSvg(None, tuple(findings), True, recovered, detail), 0
    return SanitizedSvg(out, tuple(findings), False, recovered, None, tuple(cleaner.embedded)), weight


def sanitize_svg(svg: str, *, strict: bool = False) -> SanitizedSvg:
    """Parse untrusted SVG safely and return a cleaned copy plus what was done to it.

    Nothing is fetched, no file is read and no entity is expanded. See the module docs for
    what is rejected, removed and recovered.

    Args:
        svg: The SVG text (typically :attr:`Extraction.svg`).
        strict: Reject malformed XML and any DOCTYPE instead of recovering the way a
            browser draws.

    Returns:
        A :class:`SanitizedSvg`. It never raises for bad input: a rejection has
        ``rejected=True``, ``svg=None`` and a ``reason``.
    """
    return _sanitize_counted(svg, strict=strict)[0]


# --------------------------------------------------------------------------- canvas
_LENGTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z%]*)\s*$")
_UNITS = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54,
          "in": 96.0, "q": 96 / 101.6, "em": 16.0, "ex": 8.0, "rem": 16.0}


def _length(value: str | None) -> float | None:
    """A positive absolute length in px, or None (percentages, junk, zero, infinity)."""
    if not value:
        return None
    m = _LENGTH.match(value)
    if m is None or m.group(2).lower() not in _UNITS:
        return None
    px = float(m.group(1)) * _UNITS[m.group(2).lower()]
    return px if px > 0 and px < float("inf") else None


def _viewbox(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    parts = [p for p in re.split(r"[\s,]+", value.strip()) if p]
    if len(parts) != 4:
        return None
    try:
        w, h = float(parts[2]), float(parts[3])
    except ValueError:
        return None
    return (w, h) if 0 < w < float("inf") and 0 < h < float("inf") else None


def _root_attrs(svg: str) -> dict[str, str]:
    m = _SVG_OPEN.search(svg)
    if m is None:
        return {}
    stop = _tag_end(svg, m.start())
    inner = svg[m.end(): stop - 1 if stop > 0 else len(svg)]
    return {name.lower(): value for name, value in _parse_attrs(inner.rstrip("/"))}


def _usable(w: float, h: float) -> bool:
    return math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0


def natural_size(svg: str) -> tuple[float, float, str]:
    """An SVG's size before clamping, and where it came from: ``"size"``, ``"viewBox"`` or ``"default"``.

    Always finite and positive: a size that overflows (``width="1e300"`` with an extreme
    ``viewBox`` aspect ratio) falls back to the next source, finally the default canvas.
    :func:`canvas_size` is this size clamped to the largest allowed side.

    Args:
        svg: SVG text (only the root start tag is read).

    Returns:
        ``(width, height, source)`` in CSS pixels.
    """
    attrs = _root_attrs(svg)
    w, h = _length(attrs.get("width")), _length(attrs.get("height"))
    vb = _viewbox(attrs.get("viewbox"))
    dw, dh = LIMITS.default_canvas
    candidates: list[tuple[float, float, str]] = []
    if w and h:
        candidates.append((w, h, "size"))
    if vb and w:
        candidates.append((w, w * vb[1] / vb[0], "size"))
    if vb and h:
        candidates.append((h * vb[0] / vb[1], h, "size"))
    if vb:
        candidates.append((vb[0], vb[1], "viewBox"))
    if w:
        candidates.append((w, dh, "size"))
    if h:
        candidates.append((dw, h, "size"))
    for cw, ch, source in candidates:
        if _usable(cw, ch):
            return cw, ch, source
    return dw, dh, "default"


def _clamp(w: float, h: float, max_side: int) -> tuple[int, int]:
    if not _usable(w, h):
        w, h = LIMITS.default_canvas
    scale = min(1.0, max_side / max(w, h))
    return max(1, min(max_side, round(w * scale))), max(1, min(max_side, round(h * scale)))


def canvas_size(svg: str, *, max_side: int = LIMITS.max_side) -> tuple[int, int]:
    """The pixel size an SVG is drawn at.

    Taken from the root's ``width``/``height`` (absolute units converted at 96 dpi; a missing
    side follows the ``viewBox`` aspect ratio), otherwise from the ``viewBox``, otherwise
    ``LIMITS.default_canvas`` (800x600, as upstream). Percentages count as missing, and so
    does a size that is not a finite positive number once computed (it overflowed). The long
    side is clamped to ``max_side`` keeping the aspect ratio; each side is at least 1. It
    never raises for any ``svg`` string.

    Args:
        svg: SVG text (raw or sanitised; only the root start tag is read).
        max_side: Largest allowed width or height in pixels.

    Raises:
        ValueError: ``max_side`` is smaller than 1.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    w, h, _ = natural_size(svg if isinstance(svg, str) else "")
    return _clamp(w, h, max_side)
