"""Text and Markdown views for notebooks: the mode banner, prompt cards, file summaries.

Functions return :class:`Markdown` objects: Jupyter renders them as Markdown, and ``str()``
gives the same text for terminals and logs. Nothing here prints, and no key is ever shown,
only whether it is set.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Settings, describe_mode, get_settings
from .dataset import Prompt
from .stats import CATEGORIES, PromptStats

__all__ = [
    "Markdown",
    "calibration_table",
    "category_table",
    "evaluation_summary",
    "files_table",
    "mode_banner",
    "prompt_card",
    "scores_table",
]


class Markdown(str):
    """A string that Jupyter renders as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


def mode_banner(*, steps: Sequence[str] | None = None, settings: Settings | None = None) -> Markdown:
    """A table saying, for each step, whether it runs live or offline now and what that does.

    Never raises for a missing key: under ``SVGKIT_MODE=live`` a step without its key is
    shown as failing when it runs, and live held back by the spending opt-in is said so.

    Args:
        steps: Only these steps (default: all).
        settings: Settings to describe (default: :func:`svgkit.config.get_settings`).
    """
    settings = settings or get_settings()
    rows = describe_mode(settings, steps=steps)
    modes = {r.mode for r in rows if not r.error}
    headline = ("**LIVE**" if modes == {"live"} else "**OFFLINE**" if modes == {"offline"}
                else "**PARTLY LIVE**" if modes else "**LIVE requested**")
    keys_set = bool(settings.fireworks_api_key) or bool(settings.judge_api_key)
    if settings.forced_mode == "live" or (settings.forced_mode == "offline" and keys_set):
        headline += f" (`SVGKIT_MODE={settings.forced_mode}`)"  # said only where it changes something
    lines = [f"Mode: {headline}", ""]
    failing = [r.step for r in rows if r.error]
    if failing:
        lines += [f"**Will fail:** {', '.join(failing)} need{'s' if len(failing) == 1 else ''} a key that is "
                  "not set; each raises `MissingKeyError` when it runs. Set the key, or unset `SVGKIT_MODE`.", ""]
    held = [r.step for r in rows if r.held_back]
    if held:
        lines += [f"**Live held back:** {', '.join(held)} stay{'s' if len(held) == 1 else ''} offline until you "
                  "set `ALLOW_SPEND = True` in this notebook.", ""]
    lines += ["| step | mode | needs | what it does now |", "|---|---|---|---|"]
    lines += [f"| {r.step} | {'live (fails: key missing)' if r.error else r.mode} | {r.needs} | {r.does} |"
              for r in rows]
    return Markdown("\n".join(lines))


def prompt_card(prompt: Prompt, *, heading_level: int = 4) -> Markdown:
    """A prompt with its numbered requirements, as Markdown."""
    cat = f" · *{prompt.category}*" if prompt.category else ""
    head = "#" * heading_level
    reqs = "\n".join(f"{i}. {r}" for i, r in enumerate(prompt.requirements, 1))
    return Markdown(f"{head} `{prompt.id}`{cat}\n{prompt.prompt}\n\n{reqs}")


def files_table(paths: Sequence[Path], *, root: Path | None = None) -> Markdown:
    """A table of produced files with their size and line count (for JSONL)."""
    lines = ["| file | size | lines |", "|---|---:|---:|"]
    for path in paths:
        shown = path.relative_to(root) if root and path.is_relative_to(root) else path
        n_lines = path.read_text(encoding="utf-8").count("\n") if path.suffix == ".jsonl" else "-"
        lines.append(f"| `{shown}` | {path.stat().st_size:,} B | {n_lines} |")
    return Markdown("\n".join(lines))


def category_table(stats: Sequence[PromptStats]) -> Markdown:
    """Per category: prompts, mean requirements, and which keyword rules assigned them."""
    lines = ["| category | prompts | mean requirements | assigned by |", "|---|---:|---:|---|"]
    cats = [c for c in CATEGORIES if any(s.category == c for s in stats)]
    cats += sorted({s.category for s in stats} - set(cats))
    for cat in cats:
        group = [s for s in stats if s.category == cat]
        rules: dict[str, int] = {}
        for s in group:
            rule = s.rule or "default (no keyword)"
            rules[rule] = rules.get(rule, 0) + 1
        fired = ", ".join(f"{r} x{n}" for r, n in sorted(rules.items(), key=lambda kv: -kv[1]))
        mean = sum(s.n_requirements for s in group) / len(group)
        lines.append(f"| {cat} | {len(group)} | {mean:.1f} | {fired} |")
    return Markdown("\n".join(lines))


def scores_table(answers: Sequence[Any], *, limit: int | None = None) -> Markdown:
    """Scores of scored answers (:class:`svgkit.scoring.ScoredAnswer`), with the labels' score if known.

    ``decided`` is the share of requirements the judge decided and ``of decided`` the score among
    them: where not all are decided, ``score`` (undecided counted as not fulfilled) is a lower bound.
    """
    has_labels = any(a.labels for a in answers)
    head = "| answer | score | decided | of decided | valid |" + (" labelled |" if has_labels else "")
    lines = [head + " reason |", "|---|---:|---:|---:|---|" + ("---:|" if has_labels else "") + "---|"]
    for a in answers[:limit]:
        labelled = f" {sum(a.labels) / len(a.labels):.2f} |" if a.labels else (" |" if has_labels else "")
        reason = (a.result.reason or "").replace("|", "/").replace("\n", " ")
        reason = reason if len(reason) <= 90 else reason[:89] + "…"
        share, of_decided = getattr(a, "decided_share", None), getattr(a, "decided_score", None)
        dec = "" if share is None else f"{share:.0%}"
        ofd = "" if of_decided is None else f"{of_decided:.2f}"
        lines.append(f"| {a.example_id or a.row_id} | {a.score:.2f} | {dec} | {ofd} | "
                     f"{'yes' if a.result.is_score_valid else 'no'} |{labelled} {reason} |")
    if limit is not None and len(answers) > limit:
        lines.append(f"| … {len(answers) - limit} more | | | | |" + (" |" if has_labels else "") + " |")
    return Markdown("\n".join(lines))


def calibration_table(report: Any) -> Markdown:
    """A :class:`svgkit.calibrate.CalibrationReport` as a table: overall, per category, per kind."""
    lines = ["| scope | slice | requirements | accuracy | kappa | decided | tp | fp | fn | tn |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report.rows():
        lines.append(f"| {r['scope']} | {r['name']} | {r['n']} | {r['accuracy']:.2f} | {r['kappa']:.2f} | "
                     f"{r['coverage']:.0%} | {r['tp']} | {r['fp']} | {r['fn']} | {r['tn']} |")
    return Markdown("\n".join(lines))


def evaluation_summary(answers: Sequence[Any], report: Any, run: Any) -> Markdown:
    """The deterministic figures of notebook 02: scores, judge agreement, evaluator run."""
    valid = [a.score for a in answers if a.result.is_score_valid]
    mean = sum(valid) / len(valid) if valid else 0.0
    labelled = [sum(a.labels) / len(a.labels) for a in answers if a.labels]
    judges = sorted({j for a in answers if (j := getattr(a, "judge", None))})
    shares = [d for a in answers if (d := getattr(a, "decided_share", None)) is not None]
    lines = [
        "| figure | value |", "|---|---|",
        f"| answers scored in the notebook | {len(answers)} ({len(answers) - len(valid)} invalid) |",
        f"| scored by | {', '.join(judges) or 'no judge (guards only)'} |",
        f"| mean score (judge) | {mean:.3f} |",
    ]
    if shares:
        lines.append(f"| requirements the judge decided | {sum(shares) / len(shares):.0%} (below 100%, the score is "
                     "a lower bound) |")
    if labelled:
        lines.append(f"| mean score (hand-made labels) | {sum(labelled) / len(labelled):.3f} |")
    lines += [
        f"| judge accuracy / kappa vs labels | {report.accuracy:.3f} / {report.kappa:.3f} |",
        f"| evaluator under pytest | exit code {run.returncode}, {len(run.scores)} rows, "
        f"mean score {run.mean_score:.3f}, scored by {', '.join(getattr(run, 'judges', ())) or 'no judge'} |",
    ]
    return Markdown("\n".join(lines))
