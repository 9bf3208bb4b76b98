"""What model calls cost: the one price lookup, the cost of tokens spent, and estimates before a run.

Prices are USD per million tokens (input, output) in :data:`svgkit.config.PRICES`.

**One rule for a model without a price:** its cost is *unknown*, ``None``: never 0 (that would
say it is free) and never an exception (a run on a local server or a new model must not fail
for want of a price). :func:`token_cost` returns ``None``, a :class:`CostEstimate` shows
"unknown" with how to add a price, and a judge's usage reports ``cost_usd=None``. Pass
``prices={model: (0, 0)}`` for a server that really is free.

A model id is looked up as given, then without a litellm provider prefix (``fireworks_ai/``,
``hosted_vllm/``, ``openai/``), so the ids Eval Protocol passes around find the same price.

Example (in a notebook cell)::

    from svgkit.pricing import estimate_cost

    estimate_cost(len(rows), samples=4)
"""

import html
from collections.abc import Mapping
from dataclasses import dataclass

from svgkit.config import EVALUATION, MODELS, PRICES

__all__ = ["CostEstimate", "estimate_cost", "price_of", "token_cost"]

#: Provider prefixes litellm puts before a model id; the price is the same without them.
_PROVIDER_PREFIXES = (MODELS.litellm_fireworks_prefix, MODELS.litellm_generic_prefix, "openai/")


def price_of(model: str, prices: Mapping[str, tuple[float, float]] | None = None) -> tuple[float, float] | None:
    """USD per million tokens ``(input, output)`` of ``model``, or ``None`` when it has no price.

    Args:
        model: Model id, e.g. ``gpt-4.1`` or ``accounts/fireworks/models/gpt-oss-120b``
            (a litellm provider prefix is ignored).
        prices: ``{model: (usd_in, usd_out)}`` to use instead of :data:`svgkit.config.PRICES`.
    """
    table = PRICES if prices is None else prices
    if model in table:
        return table[model]
    for prefix in _PROVIDER_PREFIXES:
        if model.startswith(prefix) and model[len(prefix):] in table:
            return table[model[len(prefix):]]
    return None


def token_cost(model: str, input_tokens: int, output_tokens: int, *,
               prices: Mapping[str, tuple[float, float]] | None = None) -> float | None:
    """Dollars for the given tokens of ``model``; ``None`` when it has no price (unknown, not free).

    Args:
        model: Model id (see :func:`price_of`).
        input_tokens: Input tokens billed.
        output_tokens: Output tokens billed.
        prices: Instead of :data:`svgkit.config.PRICES`.
    """
    price = price_of(model, prices)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


@dataclass(frozen=True)
class CostEstimate:
    """What a live run would cost, before anything is spent (rough: token counts are estimates).

    Attributes:
        n_rows: Rows to generate for.
        samples: Samples per row.
        model: Policy model.
        judge_model: Judge model, or ``None`` when judging costs nothing (rule judge).
        generation_calls: Requests to the policy.
        generation_input_tokens: Input tokens of all generation requests.
        generation_output_tokens: Output tokens of all generation requests.
        judge_calls: Requests to the judge.
        judge_input_tokens: Input tokens of all judge requests (image and prompt).
        judge_output_tokens: Output tokens of all judge requests.
        generation_usd: Price of generation in US dollars; ``None`` when the model has no price.
        judge_usd: Price of judging in US dollars; ``None`` when the judge model has no price.
    """

    n_rows: int
    samples: int
    model: str
    judge_model: str | None
    generation_calls: int
    generation_input_tokens: int
    generation_output_tokens: int
    judge_calls: int
    judge_input_tokens: int
    judge_output_tokens: int
    generation_usd: float | None
    judge_usd: float | None

    @property
    def total_usd(self) -> float | None:
        """Generation plus judge, in US dollars; ``None`` when either is unknown."""
        if self.generation_usd is None or self.judge_usd is None:
            return None
        return self.generation_usd + self.judge_usd

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Models whose cost is unknown (no price in ``PRICES``)."""
        out = [self.model] if self.generation_usd is None else []
        if self.judge_usd is None and self.judge_model:
            out.append(self.judge_model)
        return tuple(dict.fromkeys(out))

    def _note(self) -> str | None:
        if not self.unpriced:
            return None
        names = ", ".join(repr(m) for m in self.unpriced)
        return (f"no price for {names} in svgkit.config.PRICES: pass prices={{model: (usd_in, usd_out)}} "
                "per million tokens, (0, 0) for a local server")

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        judge = self.judge_model or "rule judge (no calls)"
        return [
            ("generation", self.model, f"{self.generation_calls:,}",
             f"{self.generation_input_tokens:,} in / {self.generation_output_tokens:,} out",
             _usd(self.generation_usd)),
            ("judge", judge, f"{self.judge_calls:,}",
             f"{self.judge_input_tokens:,} in / {self.judge_output_tokens:,} out", _usd(self.judge_usd)),
        ]

    def _size(self, times: str) -> str:
        return f"{_count(self.n_rows, 'row')}{times}{_count(self.samples, 'sample')}"

    def __str__(self) -> str:
        head = f"Estimated cost of {self._size(' x ')}: {_usd(self.total_usd)}"
        table = [("step", "model", "calls", "tokens", "USD"), *self._rows()]
        widths = [max(len(r[i]) for r in table) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
        note = self._note()
        return "\n".join([head, *lines, *([note] if note else []),
                          "(token counts are estimates from svgkit.config; prices from PRICES)"])

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._rows()
        )
        note = self._note()
        return (
            f"<p><b>Estimated cost of {self._size(' &times; ')}: "
            f"{html.escape(_usd(self.total_usd))}</b></p>"
            "<table><tr><th>step</th><th>model</th><th>calls</th><th>tokens</th><th>USD</th></tr>"
            f"{cells}</table>"
            + (f"<p><b>{html.escape(note)}</b></p>" if note else "")
            + "<p><small>Token counts are estimates from <code>svgkit.config</code>; "
            "prices from <code>PRICES</code>.</small></p>"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def estimate_cost(
    n_rows: int,
    *,
    samples: int = EVALUATION.samples_per_prompt,
    model: str = MODELS.eval_policy,
    judge_model: str | None = MODELS.judge,
    prompt_tokens: float = EVALUATION.est_prompt_tokens,
    completion_tokens: float = EVALUATION.est_completion_tokens,
    judge_input_tokens: float = EVALUATION.est_judge_input_tokens,
    judge_output_tokens: float = EVALUATION.est_judge_output_tokens,
    judge_calls_per_sample: int = 1,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> CostEstimate:
    """Estimate what generating and judging ``n_rows`` x ``samples`` answers would cost.

    One generation request per sample and ``judge_calls_per_sample`` judge requests; prices
    from :func:`price_of`. A model without a price makes its part (and the total) ``None``,
    shown as "unknown" with how to add the price.

    Args:
        n_rows: Rows to generate for.
        samples: Samples per row.
        model: Policy model.
        judge_model: Judge model; ``None`` for the rule judge, which costs nothing.
        prompt_tokens: Input tokens per row (see :func:`svgkit.generate.average_prompt_tokens`).
        completion_tokens: Output tokens per answer, reasoning included.
        judge_input_tokens: Input tokens per judge call (image and prompt).
        judge_output_tokens: Output tokens per judge call.
        judge_calls_per_sample: Judge requests per answer.
        prices: ``{model: (usd_in, usd_out)}`` per million tokens, instead of ``PRICES``.

    Raises:
        ValueError: A count is negative.
    """
    if n_rows < 0 or samples < 0 or judge_calls_per_sample < 0:
        raise ValueError("n_rows, samples and judge_calls_per_sample must be 0 or more")
    calls = n_rows * samples
    gen_in, gen_out = round(calls * prompt_tokens), round(calls * completion_tokens)
    judge_calls = calls * judge_calls_per_sample if judge_model else 0
    j_in, j_out = round(judge_calls * judge_input_tokens), round(judge_calls * judge_output_tokens)
    judge_usd = token_cost(judge_model, j_in, j_out, prices=prices) if judge_model else 0.0
    return CostEstimate(
        n_rows=n_rows,
        samples=samples,
        model=model,
        judge_model=judge_model,
        generation_calls=calls,
        generation_input_tokens=gen_in,
        generation_output_tokens=gen_out,
        judge_calls=judge_calls,
        judge_input_tokens=j_in,
        judge_output_tokens=j_out,
        generation_usd=token_cost(model, gen_in, gen_out, prices=prices),
        judge_usd=judge_usd,
    )
