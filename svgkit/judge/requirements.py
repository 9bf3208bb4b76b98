"""Reading a requirement's wording into a :class:`RequirementSpec`: the labels it quotes, the
colours, background, region, count and shapes it names, and whether it is holistic, negated,
relative or about size. :func:`requirement_kind` gives its coarse type for calibration.

The rule judge decides from a spec and the picture's evidence; nothing here looks at a picture.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..reading import content_words, quoted_phrases

__all__ = [
    "COLOUR_WORDS",
    "REQUIREMENT_KINDS",
    "TEXT_WORDS",
    "RequirementSpec",
    "parse_requirement",
    "requirement_kind",
]

#: The coarse types of requirements, in the order :func:`requirement_kind` tries them.
REQUIREMENT_KINDS = ("text", "holistic", "background", "count", "size", "position", "colour", "other")

# ------------------------------------------------------------------------- word lists
#: Colour words of requirements -> the pixel colour classes that satisfy them.
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red",), "crimson": ("red",), "scarlet": ("red",), "maroon": ("red", "brown"),
    "burgundy": ("red", "brown", "purple"), "tomato": ("red", "orange"), "coral": ("red", "orange", "pink"),
    "orange": ("orange",), "amber": ("orange", "yellow"), "peach": ("orange", "pink"),
    "yellow": ("yellow",), "gold": ("yellow", "orange"), "golden": ("yellow", "orange"),
    "mustard": ("yellow", "orange", "brown"),
    "green": ("green",), "lime": ("green", "yellow"), "olive": ("green", "brown", "yellow"),
    "emerald": ("green",), "mint": ("green", "teal"),
    "teal": ("teal", "green", "blue"), "cyan": ("teal", "blue"), "turquoise": ("teal", "blue", "green"),
    "aqua": ("teal", "blue"),
    "blue": ("blue",), "navy": ("blue",), "azure": ("blue",), "indigo": ("blue", "purple"),
    "purple": ("purple",), "violet": ("purple",), "lavender": ("purple", "blue", "pink"),
    "lilac": ("purple", "pink"), "magenta": ("pink", "purple"),
    "pink": ("pink",), "rose": ("pink", "red"),
    "brown": ("brown",), "tan": ("brown", "orange"), "beige": ("brown", "white", "orange", "yellow"),
    "wooden": ("brown",),
    "grey": ("grey",), "gray": ("grey",), "silver": ("grey",), "charcoal": ("grey", "black"),
    "white": ("white",), "cream": ("white", "yellow"), "ivory": ("white", "yellow"),
    "black": ("black",),
}
_COLOUR_MODIFIERS = ("light", "pale", "dark", "deep", "bright", "soft", "warm", "cool", "vivid", "muted")
_PALE_MODIFIERS = ("light", "pale", "soft")
_DARK_MODIFIERS = ("dark", "deep")
_NO_DARK_TINT = ("white", "yellow", "orange", "pink")  # "dark yellow" does not turn black

#: Words that describe a quoted label itself ("the title", "in capital letters", "the first field shows"),
#: not an object it must be drawn on: with only these left over, a label's requirement is about the text.
TEXT_WORDS = frozenset("""capital capitals uppercase lowercase bold italic header heading headings title subtitle
footnote caption name names number numbers first second third fourth fifth last order listed lists list
hours date dates time price prices score total message slogan motto greeting words text texts label labels""".split())

#: Counted nouns -> the primitive shape a count rule looks for.
_SHAPE_NOUNS = {"circle": "circle", "circles": "circle", "dot": "dot", "dots": "dot", "square": "square",
                "squares": "square", "rectangle": "rect", "rectangles": "rect", "triangle": "triangle",
                "triangles": "triangle"}
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}

#: Shape words of requirements -> a shape group (how a group is drawn: ``evidence.SHAPE_GROUPS``).
_SHAPE_WORDS: dict[str, str] = {
    **dict.fromkeys("circle circles circular round disc discs disk disks dot dots oval ovals ellipse ellipses"
                    .split(), "round"),
    **dict.fromkeys("rectangle rectangles rectangular box boxes square squares bar bars".split(), "rect"),
    **dict.fromkeys("triangle triangles triangular".split(), "triangle"),
    **dict.fromkeys("line lines gridline gridlines".split(), "line"),
    **dict.fromkeys("outline outlines border borders stroke strokes".split(), "outline"),
    **dict.fromkeys("ring rings".split(), "ring"),
}
_SHAPE_ADJECTIVES = ("round", "circular", "rectangular", "triangular", "square")

# words of the frame itself: "the top of the image" is a region, "the top of the tower" is not
_FRAME_WORDS = frozenset("image picture canvas scene screen page frame card view composition window".split())
_CANVAS_OWNERS = ("image", "picture", "canvas", "scene", "screen", "page", "app")

# words that carry no object of their own: what is left after them is the requirement's residue
_GENERIC = frozenset("""text texts label labels labelled labeled labelling read reads reading written write writes
word words title titled heading caption name named says say displayed display displays appear appears
appearing shown visible large small big bold font letters letter digits clearly placed sits sit stands stand
located positioned present presents contains contain filled fill fills colour color coloured colored
corner area part side edge half region portion top bottom upper lower left right centre center middle
near along across towards toward whole entire full very clearly slightly strip image picture screen page
background light pale dark deep bright soft warm cool vivid muted solid plain tinted tone shade shades
gradient exactly least most precisely more fewer one two three four five six seven eight nine ten eleven
twelve""".split())

# ------------------------------------------------------------------------- patterns
_COLOUR_ALT = "|".join(COLOUR_WORDS)
_COLOUR_RE = re.compile(r"\b(" + "|".join(sorted(COLOUR_WORDS, key=len, reverse=True)) + r")\b", re.I)
_COLOUR_MODIFIER_RES = tuple((x, re.compile(rf"\b{x}[\s-]*$")) for x in _COLOUR_MODIFIERS)
_COMPOUND_GAP_RE = re.compile(r"[a-z]+-", re.I)  # "grey-" in "grey-blue"
_ALTERNATIVES_RE = re.compile(r"\b(" + _COLOUR_ALT + r")\b[\w\s-]{0,12}\bor\b", re.I)

_HOLISTIC_RE = re.compile(
    r"\b(looks?|feels?|feel|overall|style|styled|mood|atmosphere|cheerful|calm|clean|polished|modern|"
    r"realistic|cartoon|friendly|professional|aesthetic|balanced|harmonious|minimal|cluttered|convey|"
    r"conveys|conveying|evoke|evokes|sense of|recogni[sz]able|vibrant|expression)\b", re.I)
_NEGATED_RE = re.compile(r"\b(no|not|without|never|none|nothing|apart from|except)\b|n't\b", re.I)
_SIZE_RE = re.compile(r"\b(larger|smaller|bigger|taller|shorter|wider|narrower|longer|higher|lower than|largest|"
                      r"smallest|biggest|tallest|shortest|longest|highest|lowest|widest|narrowest|twice|"
                      r"half the (?:size|height|width)|same size)\b", re.I)
_REL_RE = re.compile(r"\b(above|below|beneath|under|underneath|beside|next to|left of|right of|on top of|"
                     r"behind|in front of|inside|within|between|around|surround\w*|overlapping|attached)\b", re.I)

_COUNT_RE = re.compile(
    r"\b(exactly|at least|at most|only|precisely|no more than|no fewer than)?\s*\b(one|two|three|four|five|six|"
    r"seven|eight|nine|ten|eleven|twelve|\d+)\b(?!\s*(?:%|px|°|:|\.\d))", re.I)
_COUNTED_PHRASE_RE = re.compile(r"(?:\s+[\w-]+){0,6}")
_COUNTED_PHRASE_END_RE = re.compile(r"\b(?:is|are|in|on|at|with|that|which|and\s+(?!pale|light|dark|white|yellow))\b")
_COUNTED_NOUN_RE = re.compile(r"(?:\s+[\w-]+){0,3}?\s+(" + "|".join(_SHAPE_NOUNS) + r")\b", re.I)
_COUNT_WORD_RE = re.compile(r"\b(exactly|at least|at most|several|many|\d+)\b", re.I)

_BACKGROUND_RE = re.compile(r"\bbackground\b", re.I)
_COLOUR_BEFORE_BACKGROUND_RE = re.compile(rf"\b({_COLOUR_ALT})\b(?:[\s-]+[a-z]+){{0,3}}?[\s-]+background\b", re.I)
_BACKGROUND_IS_COLOUR_RE = re.compile(
    rf"\bbackground\b(?:\s+[\w-]+){{0,5}}?\s+(?:is|are|should be|must be|:)\s+(?:a\s+)?(?:solid\s+)?"
    rf"(?:(?:light|pale|dark|deep|bright|soft|very)\s+)*({_COLOUR_ALT})\b", re.I)
_BACKGROUND_OWNER_RE = re.compile(r"\bbackground\s+of\s+(?:the\s+|an?\s+|its\s+)?(\w+)", re.I)
_BACKGROUND_INSIDE_RE = re.compile(r"\bbackground\s+of\s+(?:the\s+)?\w+\s+(?:inside|in|of|within)\b", re.I)

# absolute regions of the canvas (their boxes: ``evidence.REGIONS``)
_V = r"(top|bottom|upper|lower)"
_H = r"(left|right|centre|center|middle)"
_FRAME = r"(?:\s+(?:corner|area|part|half|side|edge|region|portion))?(?:\s+of\s+the\s+(?:image|picture|canvas|" \
         r"scene|screen|page|frame|card|view|composition|window))?(?![\w-]*\s+of\s+the\s+(?!image|picture|canvas|" \
         r"scene|screen|page|frame|card|view|composition|window))"
_POS_RE = re.compile(
    rf"\b(?:in|at|on|near|along|across|towards?|occupies|fills?|covers?|covering|forms?|spans?|from)\s+"
    rf"(?:the\s+)?(?:very\s+)?(?:whole\s+|entire\s+)?"
    rf"(?:{_V}[\s-]*{_H}?|{_H}(?=\s+(?:side|edge|half|part|corner|of the (?:image|picture|canvas|scene|screen)))"
    rf"|{_H}\b(?=\s*(?:$|[.,;])))" + _FRAME, re.I)
_POS_OWNER_RE = re.compile(r"\s*(?:corner|area|part|half|side|edge|region|portion)?s?\s+of\s+(?:the\s+|its\s+|a\s+)?"
                           r"([\w-]+)", re.I)

_SHAPE_WORD_RE = "|".join(sorted(_SHAPE_WORDS, key=len, reverse=True))
# words a colour adjective does not reach across to a shape noun ("light blue with dark outlines")
_BIND_STOP = r"(?!(?:with|and|or|of|on|in|at|to|from|by|is|are|has|have|that|which|while)\b)"
_SHAPE_AFTER_COLOUR_RE = re.compile(rf"(?:[\s-]+{_BIND_STOP}[a-z]+){{0,2}}?[\s-]+({_SHAPE_WORD_RE})\b", re.I)
_SHAPE_IS_COLOUR_RE = re.compile(
    rf"\b({_SHAPE_WORD_RE})\s+(?:{_BIND_STOP}[a-z]+\s+){{0,2}}?(?:is|are)\s+(?:all\s+)?"
    r"(?:a\s+|an\s+)?(?:(?:filled|coloured|colored|painted|drawn)\s+(?:in\s+)?)?$", re.I)
_SHAPE_ADJECTIVE_RE = re.compile(r"\b(" + "|".join(_SHAPE_ADJECTIVES) + r")\s+$", re.I)

_TEXT_NOUNS = r"text|texts|letters|lettering|label|labels|title|heading|caption|numbers|digits|words|font"
_TEXT_AFTER_COLOUR_RE = re.compile(
    rf"(?:\s+(?:bold|capital|large|small|thin|thick|uppercase)){{0,2}}\s+({_TEXT_NOUNS})\b", re.I)
_TEXT_IS_COLOUR_RE = re.compile(
    rf"\b(?:{_TEXT_NOUNS})\s+(?:{_BIND_STOP}[a-z]+\s+){{0,2}}?(?:is|are)\s+(?:all\s+)?"
    r"(?:written\s+|drawn\s+|coloured\s+|colored\s+)?(?:in\s+)?$", re.I)
_NO_TEXT_RE = re.compile(r"\b(?:no|without(?:\s+any)?)\s+(?:visible\s+|other\s+)?(?:text|words|letters|labels?|"
                         r"writing|lettering)\b", re.I)
_EXCEPT_RE = re.compile(r"\b(?:apart from|except|other than|besides|but|beyond)\b", re.I)


# ------------------------------------------------------------------------- the spec
_Colour = tuple[str, tuple[str, ...]]  # (the words naming it, the colour classes that satisfy it)


@dataclass(frozen=True)
class RequirementSpec:
    """What a requirement's wording asks for, as far as the rule judge reads it.

    Attributes:
        kind: The coarse type (one of :data:`REQUIREMENT_KINDS`).
        labels: The quoted labels, to be found in the SVG's text.
        colours: Each named colour as (words, colour classes); the background's first.
        colour_alternatives: "red or blue": any of the colours will do.
        background: The background's colour is named.
        region: The canvas region named ("top-right", "centre", ...), if any.
        count: ("eq" / "min" / "max", n) when a number of things is named.
        count_colours: Colour classes named inside the counted phrase.
        count_shape: The primitive shape counted ("circle", "dot", "square", "rect", "triangle").
        holistic: About style, mood or overall looks.
        negated: Says what must not be there ("no", "not", "except" ...).
        relative: Places things relative to one another (or to an object).
        size: Compares sizes.
        residual: Content words left once colours, positions and generic words are taken out.
        bindings: Colours named with a shape word, as (words, colour classes, shape group).
        text_colour: The colour text is written in, as (words, colour classes).
        no_text: "no text appears anywhere".
    """

    kind: str
    labels: tuple[str, ...]
    colours: tuple[_Colour, ...]
    colour_alternatives: bool
    background: bool
    region: str | None
    count: tuple[str, int] | None
    count_colours: tuple[str, ...]
    count_shape: str | None
    holistic: bool
    negated: bool
    relative: bool
    size: bool
    residual: tuple[str, ...]
    bindings: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    text_colour: _Colour | None = None
    no_text: bool = False


# ------------------------------------------------------------------------- extractors
def _without_labels(text: str) -> tuple[tuple[str, ...], str]:
    """The quoted labels, and the text with them blanked out (what the other extractors read)."""
    labels = tuple(quoted_phrases(text))
    bare = text
    for q in labels:
        bare = bare.replace(q, " ")
    return labels, bare


def _colours(bare: str) -> list[_Colour]:
    """Every colour named, with its modifier ("light blue"); compounds ("grey-blue") merged."""
    colours: list[_Colour] = []
    positions: list[int] = []
    for m in _COLOUR_RE.finditer(bare):
        word = m.group(1).lower()
        # "orange" the fruit, "rose" the flower, "gold" medal ... are still colours for a necessary check
        before = bare[max(0, m.start() - 12):m.start()].lower()
        mod = next((x for x, pattern in _COLOUR_MODIFIER_RES if pattern.search(before)), "")
        key = f"{mod} {word}".strip()
        if key in {c[0] for c in colours}:
            continue
        classes = COLOUR_WORDS[word]
        if colours and _COMPOUND_GAP_RE.fullmatch(bare[positions[-1]:m.start()]):
            # a compound such as "grey-blue": either hue, in a muted tint
            prev_key, prev_cls = colours.pop()
            both = tuple(dict.fromkeys(prev_cls + classes))
            colours.append((f"{prev_key}-{word}", both + tuple(f"pale-{c}" for c in both)))
            continue
        if mod in _PALE_MODIFIERS:
            classes = classes + tuple(f"pale-{c}" for c in classes)
        elif mod in _DARK_MODIFIERS and word not in _NO_DARK_TINT:
            classes = classes + ("black",)
        colours.append((key, classes))
        positions.append(m.start())
    bg = _BACKGROUND_RE.search(bare)
    if bg and len(colours) > 1:  # the colour nearest to "background" is the background's
        nearest = min(range(len(colours)), key=lambda i: abs(positions[i] - bg.start()))
        colours.insert(0, colours.pop(nearest))
    return colours


def _region(bare: str) -> tuple[str | None, bool]:
    """The canvas region named, and whether a position is relative to an object instead."""
    pos = _POS_RE.search(bare)
    if pos:  # "at the top of the lighthouse" is relative to an object, not to the canvas
        after = _POS_OWNER_RE.match(bare[pos.end():])
        if after and after.group(1).lower() not in _FRAME_WORDS:
            return None, True
    if not pos:
        return None, False
    v, h1, h2 = pos.group(1), pos.group(2), pos.group(3)
    hz = (h1 or h2 or "").lower().replace("center", "centre").replace("middle", "centre")
    vt = (v or "").lower().replace("upper", "top").replace("lower", "bottom")
    if vt and hz and hz != "centre":
        return f"{vt}-{hz}", False
    if vt and hz == "centre":
        return f"{vt}-centre", False
    return vt or hz or None, False


def _count(bare: str) -> tuple[tuple[str, int] | None, tuple[str, ...], str | None]:
    """The count named ("exactly two"), the colour classes and the shape of what is counted."""
    cm = next((m for m in _COUNT_RE.finditer(bare) if m.group(1) or m.group(2).lower() not in ("one",)), None)
    if cm is None:
        return None, (), None
    op = (cm.group(1) or "exactly").lower()
    word = cm.group(2).lower()
    n = _NUMBER_WORDS.get(word, int(word) if word.isdigit() else 0)
    count = ("min" if op in ("at least", "no fewer than") else "max" if op in ("at most", "no more than")
             else "eq", n)
    rest = bare[cm.end():]
    # colours inside the counted phrase: "exactly two white clouds", "ten white or pale yellow stars"
    phrase = _COUNTED_PHRASE_END_RE.split(_COUNTED_PHRASE_RE.match(rest).group(0))[0]
    count_colours = tuple(sorted({c for m in _COLOUR_RE.finditer(phrase) for c in COLOUR_WORDS[m.group(1).lower()]}))
    noun = _COUNTED_NOUN_RE.match(rest)
    return count, count_colours, (_SHAPE_NOUNS[noun.group(1).lower()] if noun else None)


def _count_free(text: str) -> bool:
    """Whether ``text`` names no count (a counted thing is not a background)."""
    return not _COUNT_WORD_RE.search(text)


def _background(bare: str) -> bool:
    """Whether the canvas background's colour is named: "a white background", "the background is white"."""
    named = bool(_COLOUR_BEFORE_BACKGROUND_RE.search(bare) or _BACKGROUND_IS_COLOUR_RE.search(bare))
    if not (named and _count_free(bare)):
        return False
    owner = _BACKGROUND_OWNER_RE.search(bare)  # "the background of the card" is not the canvas's
    return not ((owner and owner.group(1).lower() not in _CANVAS_OWNERS) or _BACKGROUND_INSIDE_RE.search(bare))


def _colour_span(bare: str, key: str) -> re.Match[str] | None:
    return re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w])", bare, re.I)


def _bindings(bare: str, colours: Sequence[_Colour]) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """Colours named together with a shape word: "a red circle", "boxes are light blue", "a round blue window"."""
    out = []
    for key, classes in colours:
        m = _colour_span(bare, key)
        if m is None:
            continue
        before = bare[:m.start()]
        hit = (_SHAPE_AFTER_COLOUR_RE.match(bare[m.end():]) or _SHAPE_IS_COLOUR_RE.search(before)
               or _SHAPE_ADJECTIVE_RE.search(before))
        if hit:
            out.append((key, classes, _SHAPE_WORDS[hit.group(1).lower()]))
    return tuple(out)


def _text_colour(bare: str, colours: Sequence[_Colour], alternatives: bool) -> _Colour | None:
    """The colour text is written in: "in white capital letters", "white text", "the labels are white"."""
    for key, classes in colours:
        m = _colour_span(bare, key)
        if m is None:
            continue
        if _TEXT_AFTER_COLOUR_RE.match(bare[m.end():]) or _TEXT_IS_COLOUR_RE.search(bare[:m.start()]):
            if alternatives:  # "cream or white letters": any of the colours named
                return key, tuple(dict.fromkeys(c for _, cc in colours for c in cc))
            return key, classes
    return None


def _no_text(bare: str) -> bool:
    """"no text appears anywhere" (but not "no text apart from the title")."""
    return bool(_NO_TEXT_RE.search(bare) and not _EXCEPT_RE.search(bare))


def _kind(*, labels: bool, holistic: bool, background: bool, colours: bool, count: bool, size: bool,
          region: bool) -> str:
    if labels:
        return "text"
    if holistic:
        return "holistic"
    if background and colours:
        return "background"
    if count:
        return "count"
    if size:
        return "size"
    if region:
        return "position"
    if colours:
        return "colour"
    return "other"


def parse_requirement(text: str) -> RequirementSpec:
    """Read one requirement's wording into a :class:`RequirementSpec`."""
    labels, bare = _without_labels(text)
    colours = _colours(bare)
    alternatives = bool(_ALTERNATIVES_RE.search(bare))
    region, of_object = _region(bare)
    count, count_colours, count_shape = _count(bare)
    holistic = bool(_HOLISTIC_RE.search(bare))
    relative = bool(_REL_RE.search(bare)) or of_object
    size = bool(_SIZE_RE.search(bare))
    background = _background(bare)
    residual = tuple(w for w in content_words(bare) if w not in _GENERIC and w not in COLOUR_WORDS
                     and not w.isdigit())
    kind = _kind(labels=bool(labels), holistic=holistic, background=background, colours=bool(colours),
                 count=bool(count), size=size, region=bool(region))
    return RequirementSpec(
        kind=kind, labels=labels, colours=tuple(colours), colour_alternatives=alternatives, background=background,
        region=region, count=count, count_colours=count_colours, count_shape=count_shape, holistic=holistic,
        negated=bool(_NEGATED_RE.search(bare)), relative=relative, size=size, residual=residual,
        bindings=_bindings(bare, colours), text_colour=_text_colour(bare, colours, alternatives),
        no_text=_no_text(bare))


def requirement_kind(text: str) -> str:
    """Coarse type of a requirement, for per-type calibration: one of :data:`REQUIREMENT_KINDS`."""
    return parse_requirement(text).kind
