"""What a judge returns: :class:`Verdict` (one per image), :class:`RequirementVerdict` (one per
requirement) and :class:`JudgeUsage` (a judge's running totals)."""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["JudgeUsage", "RequirementVerdict", "Verdict"]


@dataclass(frozen=True)
class RequirementVerdict:
    """The verdict on one requirement.

    Attributes:
        index: Position of the requirement in the list (0-based).
        text: The requirement.
        fulfilled: Whether the judge says it is fulfilled (``False`` when undecided).
        reason: A short reason.
        decided: ``False`` when the judge could not decide (rule judge only).
        written: The vision judge says the requirement is only written in the picture as text
            rather than drawn (the reward then counts it as not fulfilled).
    """

    index: int
    text: str
    fulfilled: bool
    reason: str
    decided: bool = True
    written: bool = False


@dataclass(frozen=True)
class Verdict:
    """What a judge said about one image.

    Attributes:
        judge: Which judge (e.g. ``vision:gpt-4.1``, ``vision-upstream:gpt-4.1``, ``rule``).
        items: One :class:`RequirementVerdict` per requirement; empty in upstream count-only mode.
        fulfilled: Number of fulfilled requirements (clamped to ``0..total``).
        total: Number of requirements.
        valid: ``False`` when the judge failed (unreachable, refused, unparseable answer);
            then :attr:`error` says why and the score must not be trusted.
        error: Why the verdict is invalid.
        reasoning: The judge's overall reasoning, if any.
        undecided: Indexes the judge could not decide (counted as not fulfilled).
        input_tokens: Prompt tokens billed (0 for the rule judge and for cache hits).
        output_tokens: Completion tokens billed.
        cost_usd: Dollars spent on this verdict (``None`` when the model has no price in config).
        cached: Whether it came from the cache (no call made).
        duration_s: Wall time spent getting it.
        attempts: Calls made (retries included).
        transcription: The text the vision judge read in the picture (``""`` for other judges);
            the hack guards read it beside the SVG's own text.
    """

    judge: str
    items: tuple[RequirementVerdict, ...]
    fulfilled: int
    total: int
    valid: bool = True
    error: str | None = None
    reasoning: str = ""
    undecided: tuple[int, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    cached: bool = False
    duration_s: float = 0.0
    attempts: int = 0
    transcription: str = ""

    @classmethod
    def invalid(cls, judge: str, requirements: Sequence[str], error: str, **usage: Any) -> "Verdict":
        """A failed verdict on ``requirements`` saying why (``usage``: tokens, cost, attempts)."""
        return cls(judge=judge, items=(), fulfilled=0, total=len(requirements), valid=False, error=error, **usage)

    @property
    def score(self) -> float:
        """``fulfilled / total`` (0 for an invalid verdict)."""
        if not self.valid or self.total <= 0:
            return 0.0
        return max(0, min(self.fulfilled, self.total)) / self.total

    @property
    def decided(self) -> int:
        """Requirements the judge decided (all of them for a vision judge)."""
        return max(0, self.total - len(self.undecided)) if self.valid else 0

    @property
    def decided_share(self) -> float:
        """Share of the requirements decided. Below 1, :attr:`score` is a strict lower bound, not a
        measurement: the undecided ones count as not fulfilled."""
        return self.decided / self.total if self.total > 0 else 0.0

    @property
    def decided_score(self) -> float | None:
        """``fulfilled / decided``: the score among what was decided (``None`` when nothing was)."""
        if not self.valid or self.decided == 0:
            return None
        return max(0, min(self.fulfilled, self.decided)) / self.decided

    @property
    def itemised(self) -> bool:
        """Whether the verdict has one item per requirement."""
        return len(self.items) == self.total and self.total > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by the cache and by notebooks)."""
        d = asdict(self)
        d["items"] = [asdict(i) for i in self.items]
        d["undecided"] = list(self.undecided)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Verdict":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["items"] = tuple(RequirementVerdict(**i) for i in d.get("items", ()))
        d["undecided"] = tuple(d.get("undecided", ()))
        return cls(**d)

    def with_unfulfilled(self, indexes: Iterable[int], reason: str) -> "Verdict":
        """A copy where ``indexes`` are decided not fulfilled with ``reason`` (hack guards)."""
        idx = set(indexes)
        if not idx or not self.items:
            return self
        items = tuple(replace(i, fulfilled=False, decided=True, reason=reason) if i.index in idx else i
                      for i in self.items)
        return replace(self, items=items, fulfilled=sum(i.fulfilled for i in items),
                       undecided=tuple(u for u in self.undecided if u not in idx))


@dataclass(frozen=True)
class JudgeUsage:
    """Running totals of a judge: calls, cache hits, tokens and dollars.

    Attributes:
        verdicts: Verdicts returned (cache hits included).
        calls: HTTP calls made (retries included).
        cache_hits: Verdicts served from the cache.
        failures: Invalid verdicts.
        input_tokens: Prompt tokens billed.
        output_tokens: Completion tokens billed.
        cost_usd: Dollars spent (``None`` when the model has no price in config).
    """

    verdicts: int = 0
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0

