"""Reading a rendered picture and the words of a requirement: what the hack guards and the rule judge share.

- pictures: :func:`load_rgb` (PNG to an RGB array on white), :func:`parse_svg_tree` (a lenient
  parse that never resolves entities or touches the network), :func:`local_name`,
  :func:`element_text` and :func:`svg_texts`;
- sentences: :func:`normalise_text`, :func:`all_words`, :func:`content_words` (stop words left out) and
  :func:`quoted_phrases` (the labels a requirement quotes).
"""

import io
import re
from typing import Any

import numpy as np

__all__ = [
    "STOP_WORDS",
    "all_words",
    "content_words",
    "element_text",
    "load_rgb",
    "local_name",
    "normalise_text",
    "parse_svg_tree",
    "quoted_phrases",
    "svg_texts",
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


# ------------------------------------------------------------------------- sentences
def normalise_text(s: str) -> str:
    """Casefolded text with typographic quotes, dashes and spaces made plain."""
    s = (s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
         .replace("\u2026", "...").replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " "))
    return _SPACE_RE.sub(" ", s).strip().casefold()


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
