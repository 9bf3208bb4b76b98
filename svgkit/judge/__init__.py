"""Judges: decide, requirement by requirement, whether a rendered SVG fulfils its prompt.

Two judges share one interface (:class:`Judge`) and one result type (:class:`Verdict`):
:class:`VisionJudge` (live: a vision LLM on an OpenAI-compatible endpoint) and
:class:`RuleJudge` (offline: deterministic rules over the SVG and its pixels, undecided where
they cannot tell). :func:`choose_judge` says which one scores (and refuses live rollouts
scored by the rule judge unless ``SVGKIT_JUDGE=rule``); :func:`judge` / :func:`default_judge`
use it.

Modules: :mod:`~svgkit.judge.records` (verdicts), :mod:`~svgkit.judge.cache`,
:mod:`~svgkit.judge.base` (the :class:`Judge` base), :mod:`~svgkit.judge.vision`,
:mod:`~svgkit.judge.requirements` (a requirement's wording as a spec),
:mod:`~svgkit.judge.evidence` (what a picture shows), :mod:`~svgkit.judge.rules` (the rule
table, :class:`RuleJudge`, :func:`rule_coverage`) and :mod:`~svgkit.judge.api`.
``InkStats``, ``ink_stats``, ``written_requirements`` (:mod:`svgkit.guards`), ``svg_texts``
(:mod:`svgkit.reading`) and ``token_cost`` (:mod:`svgkit.pricing`) are re-exported here for
older imports.
"""

from ..guards import InkStats, ink_stats, written_requirements
from ..pricing import token_cost
from ..reading import svg_texts
from .api import JudgeChoice, JudgeNotChosenError, ajudge, choose_judge, default_judge, judge
from .base import Judge
from .cache import JudgeCache
from .records import JudgeUsage, RequirementVerdict, Verdict
from .requirements import COLOUR_WORDS, REQUIREMENT_KINDS, requirement_kind
from .rules import CoverageReport, RuleJudge, rule_coverage
from .vision import VisionJudge

__all__ = [
    "COLOUR_WORDS",
    "REQUIREMENT_KINDS",
    "CoverageReport",
    "InkStats",
    "Judge",
    "JudgeCache",
    "JudgeChoice",
    "JudgeNotChosenError",
    "JudgeUsage",
    "RequirementVerdict",
    "RuleJudge",
    "Verdict",
    "VisionJudge",
    "ajudge",
    "choose_judge",
    "default_judge",
    "ink_stats",
    "judge",
    "requirement_kind",
    "rule_coverage",
    "svg_texts",
    "token_cost",
    "written_requirements",
]
