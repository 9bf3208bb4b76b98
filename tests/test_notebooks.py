"""Conventions every committed notebooks/NN_*.ipynb keeps (no notebook is special-cased here)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from svgkit import runner

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def _number(path: Path) -> int:
    return int(path.name[:2])


def _by_number(number: int) -> Path | None:
    return next((p for p in NOTEBOOKS if _number(p) == number), None)


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def _relative_links(markdown: str) -> list[str]:
    return [t for t in LINK.findall(markdown) if not re.match(r"[a-z]+:", t)]


def test_series_is_numbered_without_gaps():
    assert NOTEBOOKS and [_number(p) for p in NOTEBOOKS] == list(range(1, len(NOTEBOOKS) + 1))


def test_opens_with_title_goals_offline_prerequisites_and_links(notebook):
    path, nb = notebook
    head = nb.cells[0]
    assert head.cell_type == "markdown" and head.source.startswith(f"# {path.name[:2]} ·")
    for part in ("**What you will learn**", "**Runs offline:**", "**Prerequisites:**", "**Series:**"):
        assert part in head.source, f"{path.name} lacks {part}"
    _check_series_links(path, head.source)


def test_ends_with_what_next_a_going_live_checklist_and_links(notebook):
    path, nb = notebook
    tail = nb.cells[-1]
    assert tail.cell_type == "markdown" and tail.source.startswith("## What next")
    checklist = tail.source.split("**Going live**", 1)[1].split("**Series:**", 1)[0]
    assert len(re.findall(r"^\d+\. ", checklist, re.M)) >= 2, "a short numbered going-live checklist"
    _check_series_links(path, tail.source.split("**Series:**", 1)[1])


def _check_series_links(path: Path, markdown: str) -> None:
    targets = _relative_links(markdown)
    for target in targets:
        assert (path.parent / target.split("#", 1)[0]).exists(), f"{path.name}: dead link {target}"
    previous, following = _by_number(_number(path) - 1), _by_number(_number(path) + 1)
    if previous:
        assert previous.name in targets, f"{path.name} must link back to {previous.name}"
    if following:
        assert following.name in targets, f"{path.name} must link on to {following.name} (it exists now)"
    else:
        assert "README.md#notebooks" in " ".join(targets) or _number(path) == len(NOTEBOOKS) == 5


def test_shows_a_mode_banner(notebook):
    path, nb = notebook
    banners = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if _text(o.get("data", {}).get("text/markdown", "")).startswith("Mode: ")]
    assert banners, f"{path.name} shows no mode banner (svgkit.display.mode_banner)"


def test_committed_outputs_are_clean_offline_and_complete(notebook):
    path, nb = notebook
    forbidden = [str(REPO), str(Path.home()), sys.prefix]
    assert runner.notebook_problems(nb, forbidden=forbidden) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom, once"
    dump = nbformat.writes(nb)
    assert "NBVAL_" not in dump, "nbval compares whole notebooks: no per-cell markers"
    assert "localhost:8000" not in "".join(_text(o.get("text", "")) for c in code for o in c.outputs)
    assert not re.search(r"\b0%\|", dump), "progress bars are saved at their end"
    assert "(set)" not in dump, "made without keys"
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in code:
        for out in cell.outputs:
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                assert view["model_id"] in state, f"{path.name}: a widget view without saved state"
                assert "text/plain" in out["data"]
