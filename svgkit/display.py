"""Text and Markdown views for notebooks: the mode banner, prompt cards, file summaries.

Functions return :class:`Markdown` objects: Jupyter renders them as Markdown, and ``str()``
gives the same text for terminals and logs. Nothing here prints, and no key is ever shown,
only whether it is set.
"""

from collections.abc import Sequence
from pathlib import Path

from .config import Settings, describe_mode, get_settings
from .dataset import Prompt
from .stats import CATEGORIES, PromptStats

__all__ = ["Markdown", "category_table", "files_table", "mode_banner", "prompt_card"]


class Markdown(str):
    """A string that Jupyter renders as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


def mode_banner(*, steps: Sequence[str] | None = None, settings: Settings | None = None) -> Markdown:
    """A table saying, for each step, whether it runs live or offline now and what that does.

    Args:
        steps: Only these steps (default: all).
        settings: Settings to describe (default: :func:`svgkit.config.get_settings`).
    """
    rows = [r for r in describe_mode(settings or get_settings()) if steps is None or r.step in steps]
    modes = {r.mode for r in rows}
    headline = ("**LIVE**" if modes == {"live"} else "**OFFLINE**" if modes == {"offline"}
                else "**PARTLY LIVE**")
    lines = [f"Mode: {headline}", "", "| step | mode | needs | what it does now |", "|---|---|---|---|"]
    lines += [f"| {r.step} | {r.mode} | {r.needs} | {r.does} |" for r in rows]
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
