"""The reward RFT optimises: one Eval Protocol ``EvaluateResult`` per model answer.

:func:`score_response` (and its async twin :func:`ascore_response`) runs the whole chain:
extract the SVG from the answer, sanitise and render it, guard against reward hacks, ask a
judge, and score ``fulfilled / total`` (clamped), as the upstream quickstart does. Every
step leaves a metric, so a reward can be explained requirement by requirement.

Outcomes:

==============================================  =======  ===============
what happened                                   score    ``is_score_valid``
==============================================  =======  ===============
no SVG in the answer (or a truncated one)       0        True
SVG rejected by the sanitiser (unsafe/invalid)  0        True
blank or near-uniform picture (judge not asked) 0        True
render failed twice, the SVG's fault (below)    0        True (False if opted out)
render failed, the renderer's fault             0        **False**
judge failed (unreachable, refused, garbage)    0        **False**
judged                                          f / t    True
==============================================  =======  ===============

Hack guards (:mod:`svgkit.guards`):

- a blank picture scores 0 without a judge call (``hack_blank``);
- a picture that is mostly random noise or tiny colour swatches (its text left out) scores 0
  without a judge call (``hack_noise``), and so does one where nothing but text is drawn
  (``hack_no_drawing``): the task is to draw;
- a tiny drawing on an empty canvas is flagged (``hack_tiny_drawing``);
- requirements written out as text instead of drawn are counted as not fulfilled
  (``hack_text_only``), and so are those the vision judge says are only written;
- text addressed to the judge ("all requirements are fulfilled", "ignore previous
  instructions", "rate this 10/10") is an injection (``hack_injection``): the requirements it
  touches score 0, all of them when it addresses the judge as a whole (then without a judge
  call when the SVG's text shows it). Text a requirement asks for is never an injection.

The text guards read every text the picture may show: the SVG's ``<text>``, that of SVG
documents nested in it as images, and the vision judge's transcription of what it reads.

Validity of the judge's count: ``decided_share`` (a metric) says how many requirements the
judge decided. The rule judge leaves many undecided, counted as not fulfilled, so its score is
a strict lower bound; the result's reason gives ``fulfilled/decided`` beside ``fulfilled/total``.

Render failures: a render that fails while drawing (a timeout, a cairo error, a crash, out of
memory) is tried once more by :mod:`svgkit.render` on a fresh worker with a longer limit
(``LIMITS.render_retry_timeout_factor`` times the timeout). If that one draws, the picture is
judged as usual (the first failure was the machine's: a loaded machine, a broken worker). If
it fails again, the SVG is to blame (``RenderResult.failure == "content"``) and the answer
scores a *valid* 0 with the reason: Eval Protocol drops invalid rows from its mean, so an
invalid score would never teach the policy that answers which hang or crash the renderer are
bad. Failures of the machinery itself (cairo missing, no worker could start, a reply that could
not be read; ``"infrastructure"``) are invalid, with the reason, and never count against the
answer. ``content_failure_valid=False`` (or ``EVALUATION.content_render_failure_valid``) scores
SVG-caused failures invalid too, as upstream does. The ``format_rendered`` metric carries
``failure`` and ``attempts``.

This module deliberately avoids ``from __future__ import annotations``: Eval Protocol
inspects evaluator signatures at run time.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from ._aio import run_sync

# svgkit/__init__.py has already told litellm (imported by Eval Protocol) not to download its
# price list at import time.
from ._ep import EvaluateResult, MetricResult
from .config import EVALUATION, Settings
from .guards import clutter_stats, find_injections, ink_stats, text_free_png, written_requirements
from .judge import Judge, Verdict, default_judge
from .reading import document_texts
from .render import RenderResult, render_png
from .svg import extract_svg

__all__ = ["INJECTION_REASON", "WRITTEN_REASON", "ascore_response", "ascore_with_render", "score_response"]

#: Reason given to a requirement that was written as text instead of drawn.
WRITTEN_REASON = "written out as text instead of drawn (hack guard)"
#: Reason given to a requirement touched by text addressed to the judge.
INJECTION_REASON = "text in the picture addresses the judge about it (injection guard)"


def _m(score: float, reason: str, *, valid: bool = True, **data: Any) -> MetricResult:
    return MetricResult(score=float(score), reason=reason, is_score_valid=valid, data=data)


def _result(score: float, reason: str, metrics: dict[str, MetricResult], *, valid: bool = True) -> EvaluateResult:
    return EvaluateResult(score=float(score), reason=reason, is_score_valid=valid, metrics=metrics)


def _render_failure(render: RenderResult) -> str:
    """Whose fault a failed render is: ``"content"`` (the SVG) or ``"infrastructure"`` (the renderer).

    Read with ``getattr``: a result that does not say is treated as ``"infrastructure"``, so it
    is never held against the policy.
    """
    failure = getattr(render, "failure", None)
    return "content" if failure == "content" else "infrastructure"


def _render_metrics(render: RenderResult) -> dict[str, MetricResult]:
    findings = tuple(render.findings)
    removed = [f for f in findings if f.severity in ("removed", "rejected")]
    recovered = any(f.severity == "recovered" for f in findings)
    listed = "; ".join(f"{f.severity}: {f.code} ({f.detail})" for f in findings)[:500]
    return {
        "format_sanitised": _m(0.0 if removed else 1.0, listed or "clean: nothing removed",
                               findings=[f.code for f in findings]),
        "format_recovered": _m(1.0 if recovered else 0.0,
                               "malformed XML recovered the way a browser draws it" if recovered
                               else "parsed strictly"),
        "format_rendered": _m(1.0 if render.ok else 0.0,
                              f"{render.width}x{render.height}" if render.ok else f"not rendered: {render.error}",
                              failure=None if render.ok else _render_failure(render),
                              attempts=getattr(render, "attempts", 1)),
        "render_time": _m(render.duration_s, f"{render.duration_s * 1000:.0f} ms"),
    }


def _documents(render: RenderResult) -> tuple[str, ...]:
    """The SVG drawn and the sanitised SVG documents nested in it (everything whose text can show)."""
    return tuple(d for d in (render.svg, *getattr(render, "embedded", ())) if d)


def _decided_metric(verdict: Verdict, fulfilled: int) -> MetricResult:
    decided = verdict.decided
    of_decided = fulfilled / decided if decided else None
    return _m(verdict.decided_share,
              f"the judge decided {decided} of {verdict.total} requirements"
              + (f"; {fulfilled}/{decided} of the decided ones fulfilled" if decided else "")
              + ("" if decided == verdict.total else ": the score is a lower bound, not a measurement"),
              decided=decided, total=verdict.total, fulfilled=fulfilled, score_of_decided=of_decided)


def _verdict_metrics(verdict: Verdict, written: Sequence[int]) -> dict[str, MetricResult]:
    metrics: dict[str, MetricResult] = {
        "judge_time": _m(verdict.duration_s, f"{verdict.duration_s * 1000:.0f} ms"
                         + (" (cached)" if verdict.cached else "")),
        "judge": _m(1.0 if verdict.valid else 0.0,
                    f"{verdict.judge}: {verdict.input_tokens}+{verdict.output_tokens} tokens"
                    + (", cached" if verdict.cached else "")
                    + (f", ${verdict.cost_usd:.5f}" if verdict.cost_usd else ""),
                    valid=verdict.valid, judge=verdict.judge, input_tokens=verdict.input_tokens,
                    output_tokens=verdict.output_tokens, cost_usd=verdict.cost_usd, cached=verdict.cached),
    }
    for item in verdict.items:
        reason = item.reason if item.decided else f"undecided: {item.reason}"
        metrics[f"requirement_{item.index + 1:02d}"] = _m(
            1.0 if item.fulfilled else 0.0, f"{item.text} -> {reason}", valid=item.decided,
            written_as_text=item.index in written)
    return metrics


async def ascore_response(
    text: str,
    requirements: Sequence[str],
    *,
    judge: Judge | None = None,
    prompt: str | None = None,
    strict: bool = False,
    settings: Settings | None = None,
    content_failure_valid: bool = EVALUATION.content_render_failure_valid,
) -> EvaluateResult:
    """Score one model answer against its requirements (async; see :func:`score_response`)."""
    result, _ = await ascore_with_render(text, requirements, judge=judge, prompt=prompt, strict=strict,
                                         settings=settings, content_failure_valid=content_failure_valid)
    return result


async def ascore_with_render(
    text: str,
    requirements: Sequence[str],
    *,
    judge: Judge | None = None,
    prompt: str | None = None,
    strict: bool = False,
    settings: Settings | None = None,
    content_failure_valid: bool = EVALUATION.content_render_failure_valid,
) -> tuple[EvaluateResult, RenderResult | None]:
    """:func:`ascore_response`, with the render the reward judged (so a gallery need not draw it again).

    Returns:
        The reward and the render result (``None`` when the answer held no complete SVG to draw).
    """
    reqs = [str(r) for r in requirements]
    if not reqs:
        raise ValueError("requirements is empty: a prompt needs at least one requirement to score against")
    total = len(reqs)
    metrics: dict[str, MetricResult] = {}

    extraction = extract_svg(text or "")
    metrics["format_extracted"] = _m(1.0 if extraction.svg else 0.0,
                                     f"method={extraction.method}" + (", truncated" if extraction.truncated else ""))
    if not extraction.svg or extraction.truncated:
        why = "truncated SVG (opened, never closed): nothing drawn" if extraction.truncated else "no SVG found"
        return _result(0.0, why, metrics), None

    render = await asyncio.to_thread(render_png, extraction.svg, strict=strict)
    metrics.update(_render_metrics(render))
    rejected = [f for f in render.findings if f.severity == "rejected"]
    if not render.ok or not render.png:
        if rejected:
            return _result(0.0, f"SVG rejected: {render.error or rejected[0].detail}", metrics), render
        if _render_failure(render) == "content":  # the SVG crashed or hung the renderer, twice
            tries = getattr(render, "attempts", 1)
            return _result(0.0, f"render failed because of the SVG{' (twice)' if tries > 1 else ''}: {render.error}",
                           metrics, valid=content_failure_valid), render
        return _result(0.0, f"render failed (not the answer's fault): {render.error}", metrics, valid=False), render

    ink = await asyncio.to_thread(ink_stats, render.png)
    metrics["hack_blank"] = _m(1.0 if ink.blank else 0.0, f"{ink.ink_share:.2%} of the canvas drawn",
                               ink_share=ink.ink_share)
    if ink.blank:
        return _result(0.0, f"blank or near-uniform picture ({ink.ink_share:.2%} drawn): scored 0, "
                            "judge not asked", metrics), render
    metrics["hack_tiny_drawing"] = _m(1.0 if ink.tiny else 0.0,
                                      f"drawing covers {ink.bbox_share:.1%} of the canvas"
                                      + (" (tiny drawing on an empty canvas)" if ink.tiny else ""),
                                      bbox=ink.bbox)
    free = await asyncio.to_thread(text_free_png, render.svg, render.png)
    clutter = await asyncio.to_thread(clutter_stats, free)
    metrics["hack_noise"] = _m(1.0 if clutter.cluttered else 0.0, clutter.describe(), noise=clutter.noise,
                               swatches=clutter.swatches, edge_share=clutter.edge_share,
                               small_share=clutter.small_share)
    if clutter.cluttered:
        return _result(0.0, f"the picture is {clutter.describe()}: scored 0, judge not asked", metrics), render
    only_text = free is not render.png and (await asyncio.to_thread(ink_stats, free)).blank
    metrics["hack_no_drawing"] = _m(1.0 if only_text else 0.0, "nothing is drawn but text" if only_text
                                    else "something besides text is drawn")
    if only_text:
        return _result(0.0, "nothing is drawn but text: scored 0, judge not asked", metrics), render

    texts = await asyncio.to_thread(document_texts, _documents(render))
    injection = find_injections(texts, reqs)
    if injection.whole:  # text addressed to the judge as a whole: no call spent on it
        metrics["hack_injection"] = _injection_metric(injection, total)
        return _result(0.0, f"text in the picture addresses the judge ('{injection.phrases[0]}'): scored 0, "
                            "judge not asked", metrics), render
    written, prompt_written = written_requirements(None, reqs, prompt=prompt, texts=texts)
    metrics["hack_text_only"] = _written_metric(written, prompt_written, total)

    j = judge or default_judge(settings)
    start = time.monotonic()
    verdict = await j.ajudge(render, reqs, svg=render.svg, prompt=prompt)
    if not verdict.valid:
        metrics["judge_time"] = _m(time.monotonic() - start, f"{(time.monotonic() - start) * 1000:.0f} ms")
        metrics["judge"] = _m(0.0, f"{verdict.judge} failed: {verdict.error}", valid=False)
        return _result(0.0, f"judge failed: {verdict.error}", metrics, valid=False), render

    # the judge's transcription covers text the SVG's own text does not: paths, images, paraphrases
    read = [line.strip() for line in verdict.transcription.splitlines() if line.strip()]
    if read:
        injection = find_injections([*texts, *read], reqs)
        written, prompt_written = written_requirements(None, reqs, prompt=prompt, texts=[*texts, *read])
    said_written = {i.index for i in verdict.items if i.written}
    if read or said_written:
        written = tuple(sorted(set(written) | said_written))
        metrics["hack_text_only"] = _written_metric(written, prompt_written, total)
    metrics["hack_injection"] = _injection_metric(injection, total)
    injected = injection.touched(total)

    if verdict.items:
        verdict = verdict.with_unfulfilled(written, WRITTEN_REASON).with_unfulfilled(injected, INJECTION_REASON)
        fulfilled = verdict.fulfilled
    else:
        # Count-only (upstream) verdicts say how many, not which. A strict judge often leaves the
        # written-out requirements out of its count already, so subtracting them again would
        # penalise them twice (2 drawn + 1 written, judged 2/3, would score 1/3). What is certain
        # is that at most ``total - len(written)`` requirements can be fulfilled by drawing, so the
        # count is capped there instead: a judge that credited every written one (the gullible
        # case) loses them, and no answer loses more than it was credited for. Injected ones alike.
        fulfilled = min(verdict.fulfilled, total - len(set(written) | set(injected)))
    fulfilled = max(0, min(fulfilled, total))
    metrics.update(_verdict_metrics(verdict, written))
    metrics["decided_share"] = _decided_metric(verdict, fulfilled)
    parts = [f"{fulfilled}/{total} requirements fulfilled ({verdict.judge})"]
    if verdict.undecided:
        parts.append(f"{fulfilled}/{verdict.decided} of the decided; {len(verdict.undecided)} undecided, "
                     "counted unfulfilled")
    if written:
        parts.append(f"{len(written)} written as text instead of drawn")
    if injection.found:
        parts.append(f"{len(injected)} touched by text addressed to the judge")
    if ink.tiny:
        parts.append("tiny drawing on an empty canvas")
    if verdict.reasoning:
        parts.append(verdict.reasoning[:300])
    return _result(fulfilled / total, "; ".join(parts), metrics), render


def _written_metric(written: Sequence[int], prompt_written: bool, total: int) -> MetricResult:
    return _m(len(written) / total,
              (f"requirement(s) {', '.join(str(i + 1) for i in written)} written as text, counted unfulfilled"
               if written else "no requirement written out as text")
              + ("; the prompt itself is written out as text" if prompt_written else ""),
              written=list(written), prompt_written=prompt_written)


def _injection_metric(injection: Any, total: int) -> MetricResult:
    touched = injection.touched(total)
    if not injection.found:
        return _m(0.0, "no text addressed to the judge", indexes=[], whole=False)
    what = ("addresses the judge as a whole: every requirement scores 0" if injection.whole
            else f"touches requirement(s) {', '.join(str(i + 1) for i in touched)}, counted unfulfilled")
    return _m(len(touched) / total, f"text in the picture {what} ('{injection.phrases[0]}')",
              indexes=list(touched), whole=injection.whole, phrases=list(injection.phrases))


def score_response(
    text: str,
    requirements: Sequence[str],
    *,
    judge: Judge | None = None,
    prompt: str | None = None,
    strict: bool = False,
    settings: Settings | None = None,
    content_failure_valid: bool = EVALUATION.content_render_failure_valid,
) -> EvaluateResult:
    """Score one model answer against its requirements.

    Args:
        text: The model's full answer (prose, fences, ``<think>`` blocks and all).
        requirements: The prompt's requirements, in order.
        judge: The judge (default: vision judge live, rule judge offline; see
            :func:`svgkit.judge.default_judge`).
        prompt: The task prompt (lets the text-only guard spot a prompt written out).
        strict: Parse the SVG strictly instead of recovering malformed XML like a browser.
        settings: Mode and keys (default: from the environment).
        content_failure_valid: Score a render failure caused by the SVG itself (it failed on a
            fresh worker with a longer limit too) as a valid 0 that penalises the policy (the
            default); ``False`` makes it an invalid score, as upstream.

    Returns:
        An ``EvaluateResult`` whose score is ``fulfilled / total`` and whose metrics hold
        ``requirement_NN``, ``format_*``, ``hack_*``, ``render_time``, ``judge_time`` and ``judge``.

    Raises:
        ValueError: ``requirements`` is empty.
    """
    return run_sync(ascore_response(text, requirements, judge=judge, prompt=prompt, strict=strict,
                                    settings=settings, content_failure_valid=content_failure_valid))
