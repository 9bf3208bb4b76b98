"""The rule judge: an ordered table of rules (:data:`RULES`) over a requirement's spec and the
picture's evidence. :class:`RuleJudge` decides with it and :func:`rule_coverage` counts
with it, so what coverage promises is what the judge does.

Each :class:`Rule` says when it applies, from the wording alone (:func:`parse_requirement`),
and with which coverage: ``"decidable"`` (it may say fulfilled or not), ``"refutable"``
(only "not fulfilled") or ``"none"`` (it only ends the walk, undecided). Rules are tried in
order; a rule answers with a :class:`Decision`, records a finding for later rules, or passes.
A ``final`` rule always answers when the SVG is readable, so later rules are never asked.

To add a rule, write its ``applies`` and ``decide`` and put a :class:`Rule` in :data:`RULES`
where it belongs in the order; coverage follows by itself.
"""

import asyncio
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..config import JUDGE
from ..reading import normalise_text
from .base import Judge
from .cache import JudgeCache
from .evidence import (
    SHAPE_GROUPS,
    Deadline,
    Evidence,
    RuleBudgetExceeded,
    SeenText,
    colour_masks,
    colours_in,
    gather_evidence,
    in_region,
)
from .records import RequirementVerdict, Verdict
from .requirements import TEXT_WORDS, RequirementSpec, parse_requirement

__all__ = [
    "RULES",
    "Coverage",
    "CoverageReport",
    "Decision",
    "Outcome",
    "Rule",
    "RuleJudge",
    "coverage_class",
    "decide",
    "rule_coverage",
    "rules_for",
]

#: What a rule can do for a requirement: say fulfilled or not, only "not fulfilled", or neither.
Coverage = Literal["decidable", "refutable", "none"]


@dataclass(frozen=True)
class Decision:
    """A rule's answer on one requirement.

    Attributes:
        fulfilled: ``True`` / ``False``, or ``None`` for undecided.
        reason: A short reason.
        rule: The name of the rule that answered (``""``: no rule did).
    """

    fulfilled: bool | None
    reason: str
    rule: str = ""


#: What a rule's ``decide`` returns: a :class:`Decision` (the answer), a finding (a ``str``
#: that later rules may build on), or ``None`` (pass: ask the next rule).
Outcome = Decision | str | None


@dataclass(frozen=True)
class Rule:
    """One rule of the rule judge.

    Attributes:
        name: Short name, reported in :attr:`Decision.rule`.
        applies: From the spec alone: the rule's coverage for it, or ``None`` when it does not apply.
        decide: ``(spec, evidence, findings so far) -> Outcome``.
        final: When it applies (and the SVG is readable) it always answers: later rules are not asked.
    """

    name: str
    applies: Callable[[RequirementSpec], Coverage | None]
    decide: Callable[[RequirementSpec, Evidence, tuple[str, ...]], Outcome]
    final: bool = False


# ------------------------------------------------------------------------- shared conditions
def _few_words(spec: RequirementSpec, extra: int = 0) -> bool:
    """Nothing much is left once colours, positions and generic words are read."""
    return len(spec.residual) <= JUDGE.rule_max_residual_words + extra


def _simple(spec: RequirementSpec) -> bool:
    """The colour checks are all there is to it: no object, relation, size or count besides."""
    return _few_words(spec) and not spec.relative and not spec.size and spec.count is None


def _contains_text(hay: str, needle: str) -> bool:
    return needle in hay or needle.replace(" ", "") in hay.replace(" ", "")


def _checks_background(spec: RequirementSpec) -> bool:
    return spec.background and bool(spec.colours) and not spec.labels


def _checks_region_colour(spec: RequirementSpec) -> bool:
    return (bool(spec.region) and not spec.relative and not spec.labels and len(spec.colours) == 1
            and not spec.background)


def _missing_colour(spec: RequirementSpec, ev: Evidence) -> Decision | None:
    """Not fulfilled when a colour it names is nowhere in the picture (any one of "red or blue")."""
    missing = [word for word, cls in spec.colours if not ev.present(cls)]
    if spec.colours and missing and (not spec.colour_alternatives or len(missing) == len(spec.colours)):
        return Decision(False, f"no {missing[0]} anywhere in the picture")
    return None


_HOLISTIC = Decision(None, "holistic requirement: needs a vision judge")
_NEEDS_VISION = Decision(None, "needs a vision judge")
_COUNTED_SHAPES = {"dot": ("circle",), "circle": ("circle",), "rect": ("rect", "square"),
                   "square": ("square",), "triangle": ("triangle",)}


# ------------------------------------------------------------------------- the rules, in order
def _no_text_applies(spec: RequirementSpec) -> Coverage | None:
    if not (spec.no_text and not spec.labels):
        return None
    return "decidable" if _few_words(spec) else "refutable"


def _no_text(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"No text appears anywhere": decided by the ``<text>`` elements the picture shows."""
    if ev.dom is None or ev.text_limit:
        return None
    drawn = [t.text for t in ev.texts if t.shown]
    if drawn:
        return Decision(False, f"text '{drawn[0][:40]}' is drawn")
    if _few_words(spec):
        return Decision(True, "no text in the picture" if ev.texts else "no text element in the SVG")
    return None


def _negated(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"No text apart from ...", "not red": the checks below would read it backwards."""
    return Decision(None, "negated requirement: needs a vision judge")


def _label_hits(q: str, texts: Sequence[SeenText]) -> list[SeenText]:
    nq = normalise_text(q)
    return [t for t in texts if _contains_text(normalise_text(t.text), nq)]


def _labels(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """Quoted labels must be shown in the picture (in the colour and region named). They are necessary,
    and sufficient only when the requirement asks for nothing else: a size needs a vision judge, and an
    object or relation needs the label on or beside something drawn (:attr:`SeenText.anchored`)."""
    if not ev.has_svg:
        return Decision(None, "no SVG to read text from")
    if ev.text_limit:
        return Decision(None, ev.text_limit)
    labels = [t for t in ev.texts if t.text not in ev.spelled_out]
    shown = [t for t in labels if t.shown]
    joined = " ".join(normalise_text(t.text) for t in shown)
    found_hits: list[tuple[str, list[SeenText]]] = []
    for q in spec.labels:
        hits = _label_hits(q, shown)
        if not hits and normalise_text(q) not in joined:
            hidden = _label_hits(q, labels)
            if hidden:
                return Decision(False, f"text '{q}' is in the SVG but the picture does not show it: {hidden[0].why}")
            return Decision(False, f"no text '{q}' in the picture")
        found_hits.append((q, hits))
        if spec.text_colour:
            word, tcls = spec.text_colour
            fills = [t.fill for t in hits]
            if fills and all(f for f in fills) and not any(colours_in(f, tcls) for f in fills):
                return Decision(False, f"text '{q}' is not {word}")
    refuted = _missing_colour(spec, ev)
    if refuted:
        return refuted
    if spec.holistic:
        return _HOLISTIC
    if spec.size:
        return Decision(None, "text found, but comparing sizes needs a vision judge")
    where: list[str] = []
    if spec.region and not spec.relative:
        boxes = [t.box for _, hits in found_hits for t in hits]
        known = [b for b in boxes if b is not None]
        if any(not hits for _, hits in found_hits) or len(known) < len(boxes) or not known:
            return Decision(None, "text found but its position could not be measured")
        if not any(in_region(b, spec.region) for b in known):
            return Decision(False, f"text found but not in the {spec.region}")
        where.append(f"text in the {spec.region}")
    objects = [w for w in spec.residual if w not in TEXT_WORDS]
    if spec.relative or objects:  # "a sign reads ...", "the label above the ring ..."
        if any(not hits or any(t.anchored is None for t in hits) for _, hits in found_hits):
            return Decision(None, "text found, but whether it is on what the requirement names was not measured")
        alone = next((q for q, hits in found_hits if not any(t.anchored for t in hits)), None)
        if alone is not None:
            return Decision(None, f"text '{alone}' stands alone on the empty canvas: "
                                  f"the {' '.join(objects[:3]) or 'object'} it belongs to needs a vision judge")
        where.append("text drawn on or beside a shape")
    return Decision(True, "; ".join(where or ["text present"]))


def _colours_named(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """Every colour a requirement names must be in the picture."""
    return _missing_colour(spec, ev)


def _holistic(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """Style, mood, overall looks: not for rules."""
    return _HOLISTIC


def _text_colour_applies(spec: RequirementSpec) -> Coverage | None:
    ok = (spec.text_colour is not None and not spec.labels and not spec.bindings and len(spec.colours) == 1
          and not spec.relative and _few_words(spec))
    return "decidable" if ok else None


def _text_colour(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"The labels are white": decided by the fills of the ``<text>`` elements."""
    if ev.dom is None or spec.text_colour is None:
        return None
    if ev.text_limit:
        return Decision(None, ev.text_limit)
    word, tcls = spec.text_colour
    fills = [t.fill for t in ev.texts if t.shown and t.text not in ev.spelled_out]
    if not fills:
        return Decision(False, "no text in the picture")
    hit = sum(colours_in(f, tcls) for f in fills)
    if hit * 2 >= len(fills):
        return Decision(True, f"{hit} of {len(fills)} text element(s) are {word}")
    if hit == 0 and all(fills):
        return Decision(False, f"no text element is {word}")
    return Decision(None, f"{hit} of {len(fills)} text element(s) are {word}: unclear")


def _background(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"The background is <colour>": the canvas border or the largest area has that colour."""
    word, cls = spec.colours[0]
    allcls = tuple(c for _, cc in spec.colours for c in cc) if spec.colour_alternatives else cls
    border = max(ev.border_share.get(c, 0.0) for c in allcls)
    area = max(ev.share.get(c, 0.0) for c in allcls)
    if border >= 0.5 or area >= 0.3:
        return f"background is {word}"
    if area < 0.08:
        return Decision(False, f"{word} covers only {area:.0%} of the picture: not the background")
    return Decision(None, f"{word} covers {area:.0%}: background unclear")


def _region_colour(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"A yellow sun in the top-right corner": that colour in that region of the canvas."""
    word, cls = spec.colours[0]
    if ev.region_share(cls, spec.region or "") >= JUDGE.region_presence_share:
        return f"{word} in the {spec.region}"
    return Decision(False, f"no {word} in the {spec.region}")


def _count_applies(spec: RequirementSpec) -> Coverage | None:
    ok = spec.count is not None and spec.count_shape is not None and not spec.relative and not spec.region
    return "decidable" if ok else None


def _count(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"Exactly two red circles": counts circle/rect/triangle elements of that colour in the DOM."""
    if ev.dom is None or spec.count is None or spec.count_shape is None:
        return None
    op, n = spec.count
    wanted = _COUNTED_SHAPES[spec.count_shape]
    counted = 0
    for kind, fill in ev.dom.shapes:
        if kind not in wanted:
            continue
        if spec.count_colours:
            if fill is None:
                return Decision(None, "a shape's colour could not be read: the count needs a vision judge")
            cls = colour_masks(np.array([[fill]], dtype=np.uint8))
            if not any(cls[c][0, 0] for c in spec.count_colours):
                continue
        counted += 1
    ok = counted == n if op == "eq" else counted >= n if op == "min" else counted <= n
    what = " ".join([*spec.count_colours, spec.count_shape])
    if ok and _few_words(spec, extra=1):
        return Decision(True, f"{counted} {what} element(s) in the SVG")
    if not ok and not ev.dom.freeform and counted < n:
        return Decision(False, f"only {counted} {what} element(s) in the SVG, {n} wanted")
    return Decision(None, f"{counted} {what} element(s) in the SVG: the count needs a vision judge")


def _shape_colour_applies(spec: RequirementSpec) -> Coverage | None:
    ok = (bool(spec.bindings) and not spec.labels and not spec.negated and not spec.holistic
          and not spec.background and not spec.size and not spec.colour_alternatives
          and not (spec.count and (spec.count_colours or spec.count_shape)))
    return "decidable" if ok else None


def _shape_colour(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """"A red circular badge", "grey connector lines": an element of that shape with that fill or stroke."""
    if ev.dom is None:
        return None
    # the shape in the SVG, and its colour as a solid patch in the picture (not a swatch or a sliver)
    if all(ev.dom.has_paint(cls, group) and (SHAPE_GROUPS[group][1] == "stroke" or ev.has_patch(cls))
           for _, cls, group in spec.bindings):
        what = ", ".join(f"{word} {group}" for word, _, group in spec.bindings)
        return Decision(True, "; ".join([*found, f"{what} drawn"]))
    return None


def _canvas_checks_applies(spec: RequirementSpec) -> Coverage | None:
    if not (_checks_background(spec) or _checks_region_colour(spec)):
        return None
    return "decidable" if _simple(spec) else "none"


def _canvas_checks(spec: RequirementSpec, ev: Evidence, found: tuple[str, ...]) -> Outcome:
    """The background and region checks passed: fulfilled when they are all the requirement asks."""
    if not found:
        return _NEEDS_VISION
    if _simple(spec):
        return Decision(True, "; ".join(found))
    return Decision(None, f"{'; '.join(found)}, but the rest needs a vision judge")


def _when(predicate: Callable[[RequirementSpec], bool], coverage: Coverage) -> Callable[[RequirementSpec],
                                                                                       Coverage | None]:
    return lambda spec: coverage if predicate(spec) else None


#: The rule table, in the order the rules are tried.
RULES: tuple[Rule, ...] = (
    Rule("no text", _no_text_applies, _no_text),
    Rule("negated", _when(lambda s: s.negated, "none"), _negated, final=True),
    Rule("labels", _when(lambda s: bool(s.labels), "decidable"), _labels, final=True),
    Rule("colours named", _when(lambda s: bool(s.colours), "refutable"), _colours_named),
    Rule("holistic", _when(lambda s: s.holistic, "none"), _holistic, final=True),
    Rule("text colour", _text_colour_applies, _text_colour, final=True),
    Rule("background colour", _when(_checks_background, "refutable"), _background),
    Rule("colour in a region", _when(_checks_region_colour, "refutable"), _region_colour),
    Rule("shape count", _count_applies, _count, final=True),
    Rule("colour and shape", _shape_colour_applies, _shape_colour),
    Rule("canvas checks suffice", _canvas_checks_applies, _canvas_checks, final=True),
)


# ------------------------------------------------------------------------- reading the table
def rules_for(spec: RequirementSpec) -> tuple[tuple[Rule, Coverage], ...]:
    """The rules that may answer on ``spec`` with an SVG at hand: those that apply, in order,
    up to the first final one, each with its coverage."""
    out = []
    for rule in RULES:
        cov = rule.applies(spec)
        if cov is None:
            continue
        out.append((rule, cov))
        if rule.final:
            break
    return tuple(out)


def coverage_class(spec: RequirementSpec) -> Coverage:
    """What the rule judge can do for ``spec``: the best coverage among :func:`rules_for` it."""
    found = {cov for _, cov in rules_for(spec)}
    return "decidable" if "decidable" in found else "refutable" if "refutable" in found else "none"


def decide(spec: RequirementSpec, evidence: Evidence) -> Decision:
    """The rule table's answer on one requirement.

    Rules are tried in order (a final rule that passes for lack of an SVG lets later ones try).
    Then the hack guards veto: nothing is passed on a tiny drawing or on a picture that is
    mostly noise or swatches (undecided instead).
    """
    found: list[str] = []
    answer = _NEEDS_VISION
    for rule in RULES:
        if rule.applies(spec) is None:
            continue
        out = rule.decide(spec, evidence, tuple(found))
        if isinstance(out, Decision):
            answer = replace(out, rule=rule.name)
            break
        if out is not None:
            found.append(out)
    if answer.fulfilled and evidence.tiny:  # present in the DOM, but drawn too small for anyone to see it
        answer = replace(answer, fulfilled=None,
                         reason=f"{answer.reason}, but the drawing is tiny: needs a vision judge")
    if answer.fulfilled and evidence.clutter is not None and evidence.clutter.cluttered:
        what = "random noise" if evidence.clutter.noise else "tiny swatches"
        answer = replace(answer, fulfilled=None, reason=f"{answer.reason}, but the picture is mostly {what}")
    return answer


# ------------------------------------------------------------------------- the judge
class RuleJudge(Judge):
    """A deterministic offline judge reading the sanitised SVG and its rendered pixels.

    It decides what its rules (:data:`RULES`) can check: quoted labels, named colours, the
    background, a colour in a canvas region, counts of primitive shapes, a colour on a shape,
    the colour of text, "no text". Everything else (objects, relations, sizes, holistic or
    negated requirements) is *undecided*: not fulfilled, listed in :attr:`Verdict.undecided`.
    Only what the picture shows counts (hidden or unreadable text is not a label, scattered
    pixels are not a colour patch), text that spells a requirement out (a hack) is not a label,
    and nothing is passed on a drawing too small to see or on noise and swatches.

    It is an offline stand-in for the vision judge, strict rather than complete: a lower bound
    on what a picture fulfils (see :attr:`Verdict.decided_share`), not a training reward unless
    chosen on purpose (``SVGKIT_JUDGE=rule``).

    Its work on one answer is bounded: at most ``JUDGE.rule_max_texts`` texts are read and it
    stops after ``budget_s`` seconds; what it did not decide by then is undecided, with the reason.

    Args:
        cache: Optional :class:`JudgeCache` (or path); it is cheap enough to run without one.
        locate_text: Measure where labels are drawn and whether they show (two extra renders
            per picture with text).
        budget_s: Seconds of work per answer (default ``JUDGE.rule_budget_s``; ``None``: unbounded).
    """

    name = "rule"
    uses_svg = True

    def __init__(self, *, cache: "JudgeCache | str | os.PathLike[str] | bool | None" = None,
                 locate_text: bool = True, budget_s: float | None = JUDGE.rule_budget_s) -> None:
        super().__init__(cache=cache, prompt_version=f"rules-{JUDGE.rule_version}")
        if budget_s is not None and not budget_s > 0:
            raise ValueError(f"budget_s must be positive or None, not {budget_s!r}")
        self.locate_text = locate_text
        self.budget_s = budget_s

    def _decide_all(self, png: bytes, svg: str | None, requirements: tuple[str, ...]) -> list[RequirementVerdict]:
        deadline = Deadline(self.budget_s)  # starts in the worker thread, not while queued
        evidence = gather_evidence(png, svg, requirements, locate_text=self.locate_text, deadline=deadline)
        items = []
        for i, text in enumerate(requirements):
            deadline.check("deciding")
            d = decide(parse_requirement(text), evidence)
            items.append(RequirementVerdict(i, text, bool(d.fulfilled), d.reason, decided=d.fulfilled is not None))
        return items

    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        if png is None:
            return Verdict.invalid(self.name, requirements, "no image to judge")
        try:
            items = await asyncio.to_thread(self._decide_all, png, svg, requirements)
        except RuleBudgetExceeded as exc:
            items = [RequirementVerdict(i, t, False, str(exc), decided=False) for i, t in enumerate(requirements)]
        except Exception as exc:  # noqa: BLE001 - e.g. a corrupt PNG
            return Verdict.invalid(self.name, requirements, f"could not read the image: {exc}")
        undecided = tuple(i.index for i in items if not i.decided)
        return Verdict(judge=self.name, items=tuple(items), fulfilled=sum(i.fulfilled for i in items),
                       total=len(items), undecided=undecided,
                       reasoning=f"decided {len(items) - len(undecided)} of {len(items)} requirements")


# ------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class CoverageReport:
    """How many requirements the rule judge can decide, from their wording alone.

    Attributes:
        total: Requirements examined.
        decidable: Both ways (fulfilled or not): labels, backgrounds, colour positions.
        refutable: Only "not fulfilled" (a named colour missing), else undecided.
        by_kind: Per :func:`requirement_kind`: (total, decidable, refutable).
    """

    total: int
    decidable: int
    refutable: int
    by_kind: dict[str, tuple[int, int, int]]

    @property
    def decidable_share(self) -> float:
        """Share decidable both ways."""
        return self.decidable / self.total if self.total else 0.0

    @property
    def any_share(self) -> float:
        """Share the rule judge can decide at least sometimes."""
        return (self.decidable + self.refutable) / self.total if self.total else 0.0


def rule_coverage(requirement_lists: Iterable[Sequence[str]]) -> CoverageReport:
    """The rule judge's coverage on some requirement lists (one list per prompt).

    A requirement is *decidable* when a rule of :data:`RULES` can say fulfilled or not
    (e.g. a quoted label), *refutable* when one can only say "not fulfilled" (a named colour
    missing from the picture) and is otherwise undecided (see :func:`coverage_class`).
    """
    total = dec = ref = 0
    by_kind: dict[str, list[int]] = {}
    for reqs in requirement_lists:
        for r in reqs:
            spec = parse_requirement(r)
            c = coverage_class(spec)
            total += 1
            k = by_kind.setdefault(spec.kind, [0, 0, 0])
            k[0] += 1
            if c == "decidable":
                dec += 1
                k[1] += 1
            elif c == "refutable":
                ref += 1
                k[2] += 1
    return CoverageReport(total, dec, ref, {k: (v[0], v[1], v[2]) for k, v in sorted(by_kind.items())})
