"""Run the notebook series in order and summarise what each produced (``make tutorial``).

``python -m svgkit.runner notebooks/01_*.ipynb ...`` executes each notebook in place (so the
saved notebooks hold real outputs), stops at the first failure, and prints one screen: the
status and wall time of each notebook, plus the text of its last cell (each notebook ends
with a summary of what it produced). :func:`run_notebooks` is the library entry point.
"""

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NotebookRun", "main", "run_notebooks", "summary_text"]


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of executing one notebook."""

    path: Path
    ok: bool
    seconds: float
    summary: str
    error: str | None = None


def _last_text_output(nb) -> str:
    for cell in reversed(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/markdown") or data.get("text/plain") or out.get("text")
            if text:
                return text if isinstance(text, str) else "".join(text)
    return ""


def run_notebooks(
    paths: Sequence[Path | str],
    *,
    timeout_s: int = 900,
    on_start: Callable[[Path], None] | None = None,
) -> list[NotebookRun]:
    """Execute notebooks in order, saving each with its outputs; stop after the first failure.

    Args:
        paths: Notebooks, run in the order given.
        timeout_s: Limit for a single cell.
        on_start: Called with each path before it runs (the CLI uses it for progress).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    runs = []
    for raw in paths:
        path = Path(raw)
        if on_start:
            on_start(path)
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout_s, kernel_name="python3", record_timing=False,
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        start = time.perf_counter()
        error = None
        try:
            client.execute()
        except CellExecutionError as exc:
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        finally:
            nbformat.write(nb, path)
        runs.append(NotebookRun(path, error is None, time.perf_counter() - start, _last_text_output(nb), error))
        if error:
            break
    return runs


def summary_text(runs: Sequence[NotebookRun], *, max_lines: int = 12) -> str:
    """A one-screen summary: status, wall time and the closing output of each notebook."""
    lines = []
    for run in runs:
        status = "ok" if run.ok else "FAILED"
        lines.append(f"== {run.path.name}: {status} in {run.seconds:.1f} s")
        body = (run.error or run.summary).strip().splitlines()
        lines += ["   " + line for line in body[:max_lines]]
        if len(body) > max_lines:
            lines.append(f"   ... ({len(body) - max_lines} more lines in the notebook)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: run the given notebooks and print the summary; exit 1 if one failed."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m svgkit.runner NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    total = time.perf_counter()
    runs = run_notebooks(args, on_start=lambda p: print(f"running {p} ...", flush=True))
    print()
    print(summary_text(runs))
    print(f"\n{sum(r.ok for r in runs)}/{len(args)} notebooks ran in {time.perf_counter() - total:.0f} s; "
          "outputs are saved in the notebooks and in outputs/.")
    return 0 if len(runs) == len(args) and all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
