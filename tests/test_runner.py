"""svgkit.runner: copies for make tutorial, clean refreshes for make notebooks, deterministic files."""

import json
import re

import nbformat
import pytest
from conftest import REPO

from svgkit import runner


def _notebook(path, *sources, markdown=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = ([nbformat.v4.new_markdown_cell(markdown)] if markdown else []) + [
        nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_run_writes_copies_stops_at_a_failure_and_never_touches_the_notebooks(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    ok = _notebook(src / "01_ok.ipynb", "x = 2", "print(f'made {x * 21}')")
    bad = _notebook(src / "02_bad.ipynb", "raise ValueError('boom')")
    never = _notebook(src / "03_never.ipynb", "print('unreachable')")
    before = {p: p.read_bytes() for p in (ok, bad, never)}
    runs = runner.run_notebooks([ok, bad, never], out_dir=tmp_path / "copies", timeout_s=60)
    assert [r.path.name for r in runs] == ["01_ok.ipynb", "02_bad.ipynb"]
    assert runs[0].ok and runs[0].summary.strip() == "made 42"
    assert not runs[1].ok and "boom" in runs[1].error
    assert {p: p.read_bytes() for p in before} == before, "tracked notebooks are never written"
    copy = nbformat.read(tmp_path / "copies" / "01_ok.ipynb", as_version=4)
    assert copy.cells[1].outputs[0]["text"].strip() == "made 42"
    text = runner.summary_text(runs)
    assert "01_ok.ipynb: ok" in text and "02_bad.ipynb: FAILED" in text


def test_refresh_saves_only_clean_runs_from_a_hermetic_offline_environment(tmp_path, monkeypatch):
    src = tmp_path / "notebooks"
    src.mkdir()
    (tmp_path / ".env").write_text("FIREWORKS_API_KEY=sk-from-dotenv\nSVGKIT_MODE=live\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.delenv("SVGKIT_MODE")
    clean = _notebook(src / "01_clean.ipynb", "from svgkit.config import get_settings\n"
                      "s = get_settings()\nprint(s.forced_mode, bool(s.fireworks_api_key), bool(s.judge_api_key))")
    failing = _notebook(src / "02_fails.ipynb", "print('partial')", "raise RuntimeError('traceback must not be saved')")
    runs = runner.run_notebooks([clean, failing], refresh=True, timeout_s=60)
    assert runs[0].written == clean and runs[1].written is None and not runs[1].ok
    saved = nbformat.read(clean, as_version=4)
    assert saved.cells[0].outputs[0]["text"].strip() == "offline False False", "keys and .env do not leak in"
    assert not nbformat.read(failing, as_version=4).cells[0].outputs, "a failed run leaves the notebook as it was"


def test_refresh_refuses_stderr_and_absolute_paths(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    warns = _notebook(src / "01_warns.ipynb", "import warnings\nwarnings.warn('preventable')")
    path = _notebook(src / "02_path.ipynb", "import pathlib\nprint(pathlib.Path.cwd())")
    for nb in (warns, path):
        runs = runner.run_notebooks([nb], refresh=True, timeout_s=60)
        assert runs[0].ok and runs[0].problems and runs[0].written is None
        assert not nbformat.read(nb, as_version=4).cells[0].outputs
    assert runner.main(["--refresh", str(warns)]) == 1


WIDGETS = """import time
from tqdm.auto import tqdm
import ipywidgets as widgets
for _ in tqdm(range(3), desc="working"):
    time.sleep(0.05)
widgets.VBox([widgets.Dropdown(options=["a", "b"]), widgets.HTML("<b>a</b>")])"""


def test_two_runs_save_the_same_file_with_progress_bars_at_their_end(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    nb = _notebook(src / "01_widgets.ipynb", WIDGETS, markdown="# widgets")
    saved = []
    for _ in range(2):
        assert runner.run_notebooks([nb], refresh=True, timeout_s=60)[0].written == nb
        saved.append(nb.read_text())
    assert saved[0] == saved[1], "widget ids, timings and metadata are deterministic"
    done = nbformat.read(nb, as_version=4)
    outputs = done.cells[1].outputs
    bar = next(o for o in outputs if "working" in o["data"].get("text/plain", ""))
    assert bar["data"]["text/plain"] == "working: 100%|██████████| 3/3"
    state = done.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert not re.search(r"it/s|\d\d:\d\d", json.dumps(state)), "no timings in the saved widget state"
    shown = {o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for o in outputs if "data" in o}
    assert shown <= set(state), "every widget view has its model saved (no 'model not found')"
    refs = set(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state)))
    assert refs <= set(state) and set(state) <= refs | shown, "only the models that are shown are kept"
    assert "version" not in done.metadata.get("language_info", {})


def test_clean_notebook_is_idempotent_on_a_committed_notebook():
    committed = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert committed
    for path in committed:
        nb = nbformat.read(path, as_version=4)
        again = runner.clean_notebook(nbformat.read(path, as_version=4), salt=path.stem)
        assert nbformat.writes(again) == nbformat.writes(nb), f"{path.name} is not the output of make notebooks"


def test_makefile_blanks_the_same_variables_for_nbval():
    makefile = (REPO / "Makefile").read_text()
    block = makefile.split("HERMETIC_ENV :=", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"\b([A-Z_]+)= ", block + " ")) == set(runner.HERMETIC_BLANK)


@pytest.mark.parametrize("bad", [["--nope"], []])
def test_cli_usage_errors(bad):
    with pytest.raises(SystemExit) as exc:
        runner.main(bad)
    assert exc.value.code == 2
