"""The miniature's action space: a fixed pool of candidate answers per training prompt.

A language model writes a new answer every time; the miniature's policy can only pick one of
a fixed list. For each prompt the list holds the bundled example answers (hand-written for
the tutorial, some deliberately faulty) and deterministic edits of each of them:

==============  ==================================================================
edit            what it does to the example's SVG
==============  ==================================================================
``original``    nothing: the bundled answer exactly as written
``recolour``    paints the middle top-level element (a shape or a group) grey
``move``        moves the middle top-level element a quarter of the canvas right and down
``drop``        removes the middle top-level element
``duplicate``   draws the middle top-level element a second time, offset
``shrink``      scales the whole drawing to a fifth of the canvas, in its top-left corner
``no-text``     removes every ``<text>`` element
``paste``       writes every requirement out as a line of text over the drawing: the
                reward hack the guards exist for (:attr:`Candidate.pastes_requirements`)
==============  ==================================================================

Edits start from the sanitised SVG (:func:`svgkit.svg.sanitize_svg`), so they work on
malformed examples too; an edit that would change nothing, or give an SVG already in the
pool, is left out. An example without a drawable SVG (no SVG, truncated) has only its
original.
"""

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..dataset import Example, Prompt
from ..reading import local_name, parse_svg_tree
from ..svg import canvas_size, extract_svg, sanitize_svg

__all__ = ["EDITS", "PASTE_EDIT", "Candidate", "CandidatePool", "build_pool", "edit_svg"]

#: The edits, in the order each example's candidates are listed.
EDITS: tuple[str, ...] = ("original", "recolour", "move", "drop", "duplicate", "shrink", "no-text", "paste")
#: The edit that pastes the requirements as text (the reward hack).
PASTE_EDIT = "paste"

_SVG_NS = "http://www.w3.org/2000/svg"
_NOT_DRAWN = frozenset({"defs", "style", "title", "desc", "metadata", "script", "clipPath", "mask",
                        "linearGradient", "radialGradient", "pattern", "symbol", "marker", "filter"})
_PAINTED = frozenset({"rect", "circle", "ellipse", "path", "polygon", "polyline", "line", "text", "tspan", "use"})


@dataclass(frozen=True)
class Candidate:
    """One answer the policy can choose for a prompt.

    Attributes:
        id: ``<example id>:<edit>`` (unique in its pool).
        prompt_id: The prompt it answers.
        example_id: The bundled example it comes from.
        edit: One of :data:`EDITS`.
        response: The full answer text, as a model would send it.
        svg_sha256: Hash of the SVG in it (``""`` when it has none): equal SVGs share a score.
    """

    id: str
    prompt_id: str
    example_id: str
    edit: str
    response: str
    svg_sha256: str

    @property
    def pastes_requirements(self) -> bool:
        """Whether this candidate writes the requirements out as text (the reward hack)."""
        return self.edit == PASTE_EDIT


@dataclass(frozen=True)
class CandidatePool:
    """The candidates of every training prompt, in a fixed order.

    Attributes:
        prompts: The training prompts, in order.
        candidates: Per prompt (same order), its candidates.
    """

    prompts: tuple[Prompt, ...]
    candidates: tuple[tuple[Candidate, ...], ...]

    def __len__(self) -> int:
        return sum(len(c) for c in self.candidates)

    def for_prompt(self, prompt_id: str) -> tuple[Candidate, ...]:
        """The candidates of one prompt.

        Raises:
            KeyError: The prompt is not in the pool.
        """
        for p, cands in zip(self.prompts, self.candidates, strict=True):
            if p.id == prompt_id:
                return cands
        raise KeyError(f"prompt {prompt_id!r} is not in the pool (it has {', '.join(p.id for p in self.prompts)})")


def _sha(svg: str | None) -> str:
    return hashlib.sha256(svg.encode("utf-8")).hexdigest() if svg else ""


def _box(root: object, svg: str) -> tuple[float, float, float, float]:
    """The drawing's user-space box ``(x, y, w, h)``: the viewBox, else the canvas size."""
    vb = (root.get("viewBox") or "").replace(",", " ").split()  # type: ignore[attr-defined]
    if len(vb) == 4:
        try:
            x, y, w, h = (float(v) for v in vb)
            if w > 0 and h > 0:
                return x, y, w, h
        except ValueError:
            pass
    w, h = canvas_size(svg)
    return 0.0, 0.0, float(w), float(h)


def _drawn_children(root: object) -> list[object]:
    return [c for c in root if isinstance(c.tag, str) and local_name(c.tag) not in _NOT_DRAWN]  # type: ignore[attr-defined]


def _wrap(el: object, transform: str) -> object:
    from lxml import etree

    g = etree.Element(f"{{{_SVG_NS}}}g", transform=transform)
    g.append(copy.deepcopy(el))
    return g


def _paint_grey(el: object) -> None:
    for node in el.iter():  # type: ignore[attr-defined]
        if not isinstance(node.tag, str) or local_name(node.tag) not in _PAINTED | {"g"}:
            continue
        style = node.get("style")
        if style:  # a style's fill/stroke would win over the attribute
            kept = [d for d in style.split(";") if d.split(":", 1)[0].strip() not in ("fill", "stroke")]
            node.set("style", ";".join(kept))
        if local_name(node.tag) != "g" or node.get("fill"):
            node.set("fill", "#808080")
        if node.get("stroke") and node.get("stroke") != "none":
            node.set("stroke", "#606060")


def _paste(root: object, box: tuple[float, float, float, float], requirements: Sequence[str]) -> None:
    from lxml import etree

    x0, y0, w, h = box
    longest = max(len(r) for r in requirements)
    size = min(h / (1.35 * (len(requirements) + 1)), w / (0.52 * longest + 4))
    band = etree.SubElement(root, f"{{{_SVG_NS}}}rect", x=f"{x0:g}", y=f"{y0:g}", width=f"{w:g}",
                            height=f"{size * 1.35 * (len(requirements) + 0.6):g}", fill="#ffffff",
                            opacity="0.9")
    band.tail = "\n"
    for i, req in enumerate(requirements):
        t = etree.SubElement(root, f"{{{_SVG_NS}}}text", x=f"{x0 + size * 0.5:g}",
                             y=f"{y0 + size * 1.35 * (i + 1):g}", fill="#000000",
                             **{"font-family": "sans-serif", "font-size": f"{size:.3g}"})
        t.text = req
        t.tail = "\n"


def edit_svg(svg: str, edit: str, requirements: Sequence[str]) -> str | None:
    """Apply one of :data:`EDITS` to a sanitised SVG.

    Args:
        svg: A well-formed SVG (sanitised).
        edit: The edit's name.
        requirements: The prompt's requirements (``paste`` writes them out).

    Returns:
        The edited SVG, or ``None`` when the edit does not apply (nothing to move, no text to
        remove) or the SVG cannot be parsed.

    Raises:
        ValueError: ``edit`` is not one of :data:`EDITS`.
    """
    from lxml import etree

    if edit not in EDITS:
        raise ValueError(f"unknown edit {edit!r}: use one of {', '.join(EDITS)}")
    if edit == "original":
        return svg
    root = parse_svg_tree(svg)
    if root is None or local_name(root.tag) != "svg":
        return None
    box = _box(root, svg)
    children = _drawn_children(root)
    target = children[len(children) // 2] if len(children) >= 2 else None
    if edit in ("recolour", "move", "drop", "duplicate") and target is None:
        return None
    if edit == "recolour":
        _paint_grey(target)
    elif edit == "move":
        target.addnext(_wrap(target, f"translate({box[2] / 4:g} {box[3] / 4:g})"))  # type: ignore[union-attr]
        root.remove(target)
    elif edit == "drop":
        root.remove(target)
    elif edit == "duplicate":
        target.addnext(_wrap(target, f"translate({box[2] / 8:g} {box[3] / 8:g})"))  # type: ignore[union-attr]
    elif edit == "shrink":
        g = etree.Element(f"{{{_SVG_NS}}}g",
                          transform=f"translate({box[0]:g} {box[1]:g}) scale(0.2) translate({-box[0]:g} {-box[1]:g})")
        for child in children:
            g.append(child)  # moves it
        root.append(g)
    elif edit == "no-text":
        texts = [el for el in root.iter() if isinstance(el.tag, str) and local_name(el.tag) == "text"]
        if not texts:
            return None
        for el in texts:
            el.getparent().remove(el)
    elif edit == PASTE_EDIT:
        _paste(root, box, requirements)
    return etree.tostring(root, encoding="unicode")


def _response(svg: str) -> str:
    return f"```svg\n{svg}\n```"


def _example_candidates(example: Example, prompt: Prompt, seen: set[str]) -> list[Candidate]:
    out = []
    first = extract_svg(example.response)
    original_sha = _sha(first.svg if not first.truncated else None)
    seen.add(original_sha or f"no-svg:{example.example_id}")
    out.append(Candidate(f"{example.example_id}:original", prompt.id, example.example_id, "original",
                         example.response, original_sha))
    if not first.svg or first.truncated:
        return out
    clean = sanitize_svg(first.svg).svg
    if not clean:
        return out
    for edit in EDITS[1:]:
        edited = edit_svg(clean, edit, prompt.requirements)
        sha = _sha(edited)
        if edited is None or sha in seen:
            continue
        seen.add(sha)
        out.append(Candidate(f"{example.example_id}:{edit}", prompt.id, example.example_id, edit,
                             _response(edited), sha))
    return out


def build_pool(prompts: Iterable[Prompt], examples: Iterable[Example]) -> CandidatePool:
    """The candidate pool of some prompts: their bundled examples and the edits of each.

    Args:
        prompts: The training prompts (each needs at least one example).
        examples: Bundled examples (:func:`svgkit.dataset.load_examples`); others are ignored.

    Raises:
        ValueError: A prompt has no example answer to build candidates from.
    """
    prompts = tuple(prompts)
    by_prompt: dict[str, list[Example]] = {}
    for ex in examples:
        by_prompt.setdefault(ex.prompt_id, []).append(ex)
    pools = []
    for p in prompts:
        exs = by_prompt.get(p.id)
        if not exs:
            raise ValueError(f"prompt {p.id!r} has no bundled example answer: the miniature's candidates are "
                             "built from them, so choose prompts from svgkit.dataset.load_examples()")
        seen: set[str] = set()
        pools.append(tuple(c for ex in exs for c in _example_candidates(ex, p, seen)))
    return CandidatePool(prompts, tuple(pools))
