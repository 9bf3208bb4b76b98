"""Reading a rendered picture and the words of a requirement: what the hack guards and the rule judge share.

- pictures: :func:`load_rgb` (PNG to an RGB array on white), :func:`parse_svg_tree` (a lenient
  parse that never resolves entities or touches the network), :func:`local_name`,
  :func:`element_text`, :func:`svg_texts`, :func:`document_texts` (the texts of a drawing and of the
  SVG documents nested in it) and :func:`svg_without_text`;
- pixel masks: :func:`open_mask` (what is left of a mask once thin lines, dust and tiny patches are
  removed) and :func:`components` (its connected parts, bounded in work);
- sentences: :func:`normalise_text`, :func:`all_words`, :func:`content_words` (stop words left out) and
  :func:`quoted_phrases` (the labels a requirement quotes).
"""

import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "STOP_WORDS",
    "Components",
    "all_words",
    "components",
    "content_words",
    "document_texts",
    "element_text",
    "load_rgb",
    "local_name",
    "normalise_text",
    "open_mask",
    "parse_svg_tree",
    "quoted_phrases",
    "svg_texts",
    "svg_without_text",
]

#: Words that carry no content in a requirement (left out by :func:`content_words`).
STOP_WORDS = frozenset("""a an the and or of to in on at by for with from into onto is are be been being it its
this that these those there their them they as must should has have having each every any all some
which who whose while than then so such very also only just both either neither not no nor show shows
shown showing include includes including use uses used using draw drawn drawing depict depicted
image picture canvas scene""".split())

_QUOTED_RE = re.compile(r"(?<![A-Za-z0-9])'([^']{1,80}?)'(?![A-Za-z0-9])|\"([^\"]{1,80}?)\"|"
                        r"\u2018([^\u2019]{1,80}?)\u2019|\u201c([^\u201d]{1,80}?)\u201d")
_WORD_RE = re.compile(r"[a-z0-9]+")
_SPACE_RE = re.compile(r"\s+")
#: Invisible format characters (soft hyphen, zero-width spaces and joiners, direction marks, BOM)
#: that split a word for a reader of the SVG but not for someone looking at the picture.
_INVISIBLE_RE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
#: Cyrillic and Greek letters drawn like Latin ones (after casefolding), read as the Latin letter.
_LOOKALIKES = str.maketrans("аевкмнорстухіјѕԁαβεζηικμνορτυχ", "aebkmhopctyxijsdabezhikmnoptyx")


# ------------------------------------------------------------------------- pictures
def load_rgb(png: bytes) -> np.ndarray:
    """The pixels of a PNG as an ``(h, w, 3)`` uint8 array, transparency composited on white."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            bg.alpha_composite(im)
            im = bg
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def parse_svg_tree(svg: str) -> Any:
    """The lxml root of ``svg`` parsed leniently (no entities, DTD or network), or ``None``."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             recover=True, remove_comments=False)
    try:
        root = etree.fromstring(svg.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def local_name(tag: Any) -> str:
    """An element's tag without its namespace (``""`` for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def element_text(el: Any) -> str:
    """All text inside an element (tspans joined), whitespace collapsed."""
    return _SPACE_RE.sub(" ", " ".join(el.itertext())).strip()


def svg_texts(svg: str) -> list[str]:
    """The text content of each ``<text>`` element of an SVG, in document order (tspans joined)."""
    root = parse_svg_tree(svg) if svg else None
    if root is None:
        return []
    out = []
    for el in root.iter():
        if local_name(el.tag) == "text":
            t = element_text(el)
            if t:
                out.append(t)
    return out


def document_texts(documents: Iterable[str | None]) -> list[str]:
    """The texts of several SVG documents (a drawing and the sanitised SVG images nested in it), in order.

    A :class:`~svgkit.render.RenderResult`'s ``svg`` and ``embedded`` documents together are
    everything the picture may show as text, so the hack guards read all of them.
    """
    return [t for doc in documents if doc for t in svg_texts(doc)]


def svg_without_text(svg: str) -> str | None:
    """``svg`` with every ``<text>`` element removed (``None`` when it has none or cannot be read)."""
    from lxml import etree

    root = parse_svg_tree(svg) if svg else None
    if root is None:
        return None
    found = [el for el in root.iter() if local_name(el.tag) == "text"]
    if not found:
        return None
    for el in found:
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)
    return etree.tostring(root, encoding="unicode")


# ------------------------------------------------------------------------- pixel masks
def _box_sum(mask: np.ndarray, k: int) -> np.ndarray:
    """For each pixel, how many pixels of the ``(2k+1)``-square around it are set (edges padded empty)."""
    padded = np.pad(mask.astype(np.int32), k + 1)
    integral = padded.cumsum(0).cumsum(1)
    n = 2 * k + 1
    h, w = mask.shape
    return (integral[n:n + h, n:n + w] - integral[0:h, n:n + w] - integral[n:n + h, 0:w] + integral[0:h, 0:w])


def open_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """The morphological opening of ``mask`` by a ``(2 radius + 1)``-square: the union of all such
    squares that fit inside it. Thin lines, scattered pixels and patches smaller than the square go."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    n = (2 * radius + 1) ** 2
    core = _box_sum(mask, radius) == n
    return _box_sum(core, radius) > 0


@dataclass(frozen=True)
class Components:
    """The connected parts (8-neighbours) of a boolean mask.

    Attributes:
        areas: Pixels in each part.
        boxes: Each part's bounding box in pixels, as ``(x0, y0, x1, y1)`` rows (ends exclusive).
        complete: ``False`` when the mask had more runs than allowed and was not labelled
            (then ``areas`` and ``boxes`` are empty: treat the mask as fragmented).
    """

    areas: np.ndarray
    boxes: np.ndarray
    complete: bool = True


def components(mask: np.ndarray, *, max_runs: int = 40_000) -> Components:
    """Label the connected parts of ``mask`` by its row runs (work bounded by ``max_runs``)."""
    h, _ = mask.shape
    edges = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    ys, xs = np.nonzero(edges)
    if len(ys) // 2 > max_runs:
        return Components(np.zeros(0), np.zeros((0, 4)), complete=False)
    kinds = edges[ys, xs]
    rows, starts, ends = ys[kinds == 1], xs[kinds == 1], xs[kinds == -1]
    n = len(starts)
    if n == 0:
        return Components(np.zeros(0), np.zeros((0, 4)))
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    first = np.searchsorted(rows, np.arange(h + 1)).tolist()
    s, e = starts.tolist(), ends.tolist()
    for y in range(1, h):
        i, i_end, j, j_end = first[y - 1], first[y], first[y], first[y + 1]
        while i < i_end and j < j_end:
            if s[i] <= e[j] and s[j] <= e[i]:  # touching or diagonal: 8-connected
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
            if e[i] < e[j]:
                i += 1
            else:
                j += 1
    roots = np.array([find(i) for i in range(n)])
    _, label = np.unique(roots, return_inverse=True)
    m = int(label.max()) + 1
    areas = np.bincount(label, weights=ends - starts, minlength=m)
    x0, y0 = np.full(m, np.iinfo(np.int64).max), np.full(m, np.iinfo(np.int64).max)
    x1, y1 = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
    np.minimum.at(x0, label, starts)
    np.maximum.at(x1, label, ends)
    np.minimum.at(y0, label, rows)
    np.maximum.at(y1, label, rows + 1)
    return Components(areas, np.stack([x0, y0, x1, y1], axis=1))


# ------------------------------------------------------------------------- sentences
def normalise_text(s: str) -> str:
    """Casefolded text with typographic quotes, dashes and spaces made plain.

    Text is read as it looks: compatibility forms are folded (NFKC: fullwidth letters, ligatures),
    invisible format characters are dropped, and Cyrillic or Greek look-alikes of Latin letters
    read as those letters, so a disguised word ("аll" with a Cyrillic a) is still the word.
    """
    if not s.isascii():
        s = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", s))
    s = (s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
         .replace("\u2026", "...").replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " "))
    s = _SPACE_RE.sub(" ", s).strip().casefold()
    return s if s.isascii() else s.translate(_LOOKALIKES)


def content_words(s: str) -> list[str]:
    """The words of ``s`` (normalised, alphanumeric runs) that are not :data:`STOP_WORDS`."""
    return [w for w in _WORD_RE.findall(normalise_text(s)) if w not in STOP_WORDS]


def all_words(s: str) -> list[str]:
    """Every word of ``s`` (normalised, alphanumeric runs), stop words included."""
    return _WORD_RE.findall(normalise_text(s))


def quoted_phrases(text: str) -> list[str]:
    """The phrases quoted in ``text`` (single, double or typographic quotes), in order."""
    out = []
    for m in _QUOTED_RE.finditer(text):
        q = next(g for g in m.groups() if g is not None).strip()
        if q:
            out.append(q)
    return out
