"""Run the notebook series in order (``make tutorial``) and refresh the committed notebooks (``make notebooks``).

``python -m svgkit.runner notebooks/[0-9][0-9]_*.ipynb`` executes each notebook in order and
writes the executed copy under ``outputs/notebooks/``: the tracked notebooks are never touched.
It stops at the first failure and prints one screen: the status and wall time of each notebook,
and the text of its last output (each notebook ends with a summary of what it produced).

``python -m svgkit.runner --refresh notebooks/[0-9][0-9]_*.ipynb`` is the one command that
rewrites the committed notebooks. It runs them in a hermetic offline environment (keys blanked,
``.env`` overridden, a fresh output folder) and saves a notebook back only when it ran without
an error and :func:`notebook_problems` finds nothing: a failed run never saves its traceback
into a tracked file.

Either way, executed notebooks are cleaned by :func:`clean_notebook` so that two runs of the
same code save the same file: widget ids numbered in order, progress bars saved at their end
without timings, unused widget state dropped, no machine-specific metadata. The same rules
work for any ``notebooks/NN_*.ipynb``; nothing here knows a particular notebook.
"""

import argparse
import hashlib
import html
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HERMETIC_BLANK",
    "WIDGET_STATE",
    "WIDGET_VIEW",
    "NotebookRun",
    "clean_notebook",
    "hermetic_env",
    "main",
    "notebook_problems",
    "run_notebooks",
    "summary_text",
]

#: The MIME types of Jupyter widget state (notebook metadata) and of a widget view (a cell output).
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: Variables blanked in a hermetic run: keys and per-user overrides. Blank (not removed), because
#: a value in the environment wins over the same name in ``.env`` (see :func:`svgkit.config.get_settings`).
HERMETIC_BLANK: tuple[str, ...] = (
    "FIREWORKS_API_KEY", "OPENAI_API_KEY", "SVGKIT_JUDGE_API_KEY", "FIREWORKS_ACCOUNT_ID",
    "SVGKIT_JUDGE_MODEL", "SVGKIT_JUDGE_BASE_URL", "SVGKIT_GENERATION_BASE_URL", "SVGKIT_EVAL_MODEL", "SVGKIT_JUDGE",
)


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of executing one notebook.

    Attributes:
        path: The notebook that was run.
        ok: It ran to the end without an error.
        seconds: Wall time.
        summary: The text of its last output.
        error: The error's last line, when it failed.
        problems: What :func:`notebook_problems` found in the executed notebook.
        written: Where the executed notebook was saved (``None``: not saved).
    """

    path: Path
    ok: bool
    seconds: float
    summary: str
    error: str | None = None
    problems: tuple[str, ...] = ()
    written: Path | None = None


# --------------------------------------------------------------------------- cleaning
def _text(value: Any) -> str:
    return value if isinstance(value, str) else "".join(value or [])


def _widget_refs(value: Any) -> Iterator[str]:
    """Model ids a widget's state refers to (``IPY_MODEL_<id>`` strings, nested anywhere)."""
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            yield value[len("IPY_MODEL_"):]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _widget_refs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _widget_refs(item)


def _widget_outputs(nb: Any) -> Iterator[Any]:
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if WIDGET_VIEW in out.get("data", {}):
                yield out


_TQDM_TIMING = re.compile(r"[\s\u2007]*\[[^\]]*\][\s\u2007]*$")


def _finish_progress_bar(out: Any, state: dict[str, Any]) -> None:
    """A tqdm bar saved at its end: text fallback and right-hand label without timings."""
    box = state.get(out["data"][WIDGET_VIEW]["model_id"], {})
    children = [ref for ref in _widget_refs(box.get("state", {}).get("children", []))]
    if box.get("model_name") != "HBoxModel" or len(children) != 3:
        return
    left, bar, right = (state.get(ref, {}) for ref in children)
    if bar.get("model_name") not in ("FloatProgressModel", "IntProgressModel"):
        return
    if right.get("model_name") == "HTMLModel":
        right["state"]["value"] = _TQDM_TIMING.sub("", right["state"].get("value", ""))
    value, total = bar["state"].get("value") or 0, bar["state"].get("max") or 0
    desc = html.unescape(left.get("state", {}).get("value", "")).replace("\u2007", " ")
    desc = re.sub(r"\s*\d+%$", "", desc).strip()
    share = value / total if total else 1.0
    filled = round(10 * share)
    out["data"]["text/plain"] = (f"{desc} {share:4.0%}|{'█' * filled}{' ' * (10 - filled)}| "
                                 f"{value:g}/{total:g}").strip()


def clean_notebook(nb: Any, *, salt: str = "") -> Any:
    """Make an executed notebook deterministic, in place (and return it).

    - tqdm progress bars are saved at their end: their text fallback reads ``100%|██████████| 86/86``
      instead of the ``0%`` it had when first displayed, and their label loses its timings;
    - widget state keeps only the models that outputs show (and what those refer to), and the
      model ids are renumbered in order of appearance, so every run saves the same ids;
    - execution timing metadata and the exact Python version are dropped.

    Args:
        nb: An ``nbformat`` notebook (version 4).
        salt: Mixed into the new widget ids (the notebook's name, so two notebooks differ).
    """
    widgets = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    state: dict[str, Any] = widgets.get("state", {})
    outputs = list(_widget_outputs(nb))
    for out in outputs:
        _finish_progress_bar(out, state)
    order: list[str] = []
    queue = [out["data"][WIDGET_VIEW]["model_id"] for out in outputs]
    while queue:
        model_id = queue.pop(0)
        if model_id in order or model_id not in state:
            continue
        order.append(model_id)
        queue.extend(_widget_refs(state[model_id].get("state", {})))
    new_ids = {old: hashlib.sha1(f"svgkit:{salt}:{i}".encode()).hexdigest()[:32] for i, old in enumerate(order)}

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("IPY_MODEL_") and value[len("IPY_MODEL_"):] in new_ids:
                return "IPY_MODEL_" + new_ids[value[len("IPY_MODEL_"):]]
            return value
        if isinstance(value, Mapping):
            return type(value)({k: rename(v) for k, v in value.items()})
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    for out in outputs:
        view = out["data"][WIDGET_VIEW]
        view["model_id"] = new_ids.get(view["model_id"], view["model_id"])
    if widgets:
        widgets["state"] = {new_ids[old]: rename(state[old]) for old in order}
        if not widgets["state"]:
            del nb.metadata["widgets"]
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    return nb


def notebook_problems(nb: Any, *, forbidden: Sequence[str] = ()) -> list[str]:
    """What must not be in a committed notebook: errors, anything on stderr, absolute paths.

    Args:
        nb: An executed ``nbformat`` notebook.
        forbidden: Strings that must appear in no output and no widget state (the checkout's
            absolute path, the home directory, the run's temporary folders).

    Returns:
        One line per problem, naming the cell (empty: clean).
    """
    problems = []
    needles = [s for s in forbidden if s and s != "/"]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index} ({cell.get('id', '?')})"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{where}: {out.get('ename')}: {out.get('evalue')}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                first = _text(out.get("text")).strip().splitlines()[:1]
                problems.append(f"{where}: prints to stderr: {first[0] if first else ''}"[:200])
            texts = [_text(out.get("text"))] + [_text(v) for k, v in out.get("data", {}).items()
                                                 if isinstance(v, str | list) and k.startswith("text/")]
            for needle in needles:
                if any(needle in t for t in texts):
                    problems.append(f"{where}: shows the absolute path {needle}")
    state_text = repr(nb.metadata.get("widgets", {}))
    problems += [f"widget state: shows the absolute path {n}" for n in needles if n in state_text]
    return problems


# --------------------------------------------------------------------------- running
def hermetic_env(base: Mapping[str, str] | None = None, *, output_dir: Path | str) -> dict[str, str]:
    """The environment of a reproducible offline run: what committed notebooks are made in.

    Offline forced, no uploads, litellm's bundled price list, every key and per-user override
    blanked (see :data:`HERMETIC_BLANK`), and outputs plus the judge cache in ``output_dir``.
    """
    env = dict(os.environ if base is None else base)
    env.update({name: "" for name in HERMETIC_BLANK})
    env.update({
        "SVGKIT_MODE": "offline", "EP_NO_UPLOAD": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MPLBACKEND": "Agg", "SVGKIT_OUTPUT_DIR": str(output_dir),
        "SVGKIT_JUDGE_CACHE": str(Path(output_dir) / "judge-cache.sqlite"),
    })
    return env


def _kernel_config() -> Any:
    """Kernel manager configuration: CurveZMQ transport encryption when pyzmq supports it.

    Without it ipykernel warns "Kernel is running over TCP without encryption" on every start.
    """
    import zmq
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}}) if zmq.has("curve") else Config()


def _last_text_output(nb: Any) -> str:
    for cell in reversed(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/markdown") or data.get("text/plain") or out.get("text")
            if text:
                return _text(text)
    return ""


def run_notebooks(
    paths: Sequence[Path | str],
    *,
    refresh: bool = False,
    out_dir: Path | str | None = None,
    timeout_s: int = 900,
    on_start: Callable[[Path], None] | None = None,
) -> list[NotebookRun]:
    """Execute notebooks in order, clean them, and save them; stop after the first failure.

    Args:
        paths: Notebooks, run in the order given (each with its own folder as working directory).
        refresh: Rewrite the notebooks themselves, from a hermetic offline run (see
            :func:`hermetic_env`), and only those that ran cleanly (no error, nothing that
            :func:`notebook_problems` reports). Otherwise the environment is used as it is and
            executed copies go to ``out_dir``.
        out_dir: Where executed copies go when not refreshing (default: ``notebooks/`` in
            :func:`svgkit.config.output_dir`).
        timeout_s: Limit for a single cell.
        on_start: Called with each path before it runs (the CLI uses it for progress).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from .config import output_dir

    scratch = Path(tempfile.mkdtemp(prefix="svgkit-refresh-")) if refresh else None
    env = hermetic_env(output_dir=scratch / "outputs") if scratch else dict(os.environ)
    copies = None if refresh else Path(out_dir) if out_dir else output_dir() / "notebooks"
    runs = []
    try:
        for raw in paths:
            path = Path(raw)
            if on_start:
                on_start(path)
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", record_timing=False,
                                    config=_kernel_config(),
                                    resources={"metadata": {"path": str(path.parent.resolve())}})
            start = time.perf_counter()
            error = None
            try:
                client.execute(env=env)
            except CellExecutionError as exc:
                text = str(exc).strip()
                error = text.splitlines()[-1] if text else type(exc).__name__
            seconds = time.perf_counter() - start
            clean_notebook(nb, salt=path.stem)
            forbidden = [str(Path.cwd().resolve()), str(path.parent.resolve().parent), str(Path.home()),
                         sys.prefix, *([str(scratch)] if scratch else [])]
            problems = tuple(notebook_problems(nb, forbidden=forbidden)) if error is None else ()
            written = None
            if copies is not None:
                copies.mkdir(parents=True, exist_ok=True)
                written = copies / path.name
                nbformat.write(nb, written)
            elif error is None and not problems:
                nbformat.write(nb, path)
                written = path
            runs.append(NotebookRun(path, error is None, seconds, _last_text_output(nb), error, problems, written))
            if error or (refresh and problems):
                break
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return runs


def summary_text(runs: Sequence[NotebookRun], *, max_lines: int = 12) -> str:
    """A one-screen summary: status, wall time, problems and the closing output of each notebook."""
    lines = []
    for run in runs:
        status = "ok" if run.ok and not run.problems else "ok, with problems" if run.ok else "FAILED"
        saved = f"; saved {run.written}" if run.written else "; not saved"
        lines.append(f"== {run.path.name}: {status} in {run.seconds:.1f} s{saved}")
        lines += [f"   problem: {p}" for p in run.problems]
        body = (run.error or run.summary).strip().splitlines()
        lines += ["   " + line for line in body[:max_lines]]
        if len(body) > max_lines:
            lines.append(f"   ... ({len(body) - max_lines} more lines in the notebook)")
    return "\n".join(lines)


@dataclass
class _Args:
    notebooks: list[str] = field(default_factory=list)
    refresh: bool = False
    out_dir: str | None = None


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: run the given notebooks and print the summary.

    Exit status 1 when a notebook failed; with ``--refresh`` also when one had problems
    (and so was not saved). 2 for a usage error.
    """
    parser = argparse.ArgumentParser(prog="python -m svgkit.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks to run, in order")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite the notebooks themselves from a hermetic offline run (only clean runs are saved)")
    parser.add_argument("--out-dir", help="where executed copies go (default: outputs/notebooks)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv), namespace=_Args())
    total = time.perf_counter()
    runs = run_notebooks(args.notebooks, refresh=args.refresh, out_dir=args.out_dir,
                         on_start=lambda p: print(f"running {p} ...", flush=True))
    print()
    print(summary_text(runs))
    done = sum(r.ok for r in runs)
    where = "the notebooks themselves" if args.refresh else (str(runs[0].written.parent) if runs and runs[0].written
                                                              else "nowhere")
    print(f"\n{done}/{len(args.notebooks)} notebooks ran in {time.perf_counter() - total:.0f} s; "
          f"executed notebooks saved to {where}.")
    failed = len(runs) < len(args.notebooks) or not all(r.ok for r in runs)
    return 1 if failed or (args.refresh and any(r.problems for r in runs)) else 0


if __name__ == "__main__":
    raise SystemExit(main())
