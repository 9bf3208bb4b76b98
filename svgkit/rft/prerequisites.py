"""What an RFT launch needs in place first: training rows, an ACTIVE evaluator, the judge's secret.

:func:`check_prerequisites` looks (free ``GET`` requests) and reports each item with what to do.
In a rehearsal it also fills the gaps notebook 03 would have filled, on the stand-in only, and
says so: a placeholder evaluator (svgkit's evaluator file and a ``requirements.txt``, uploaded
through eval-protocol's ``create_evaluation`` as notebook 03 does; the stand-in runs nothing)
and a random placeholder for the judge's secret. Live it never writes anything.
"""

import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import FILES, PLATFORM, RFT, output_path
from ..dataset import read_rows
from .paths import shown_path
from .views import MarkdownView

if TYPE_CHECKING:
    from ..rehearsal import PlatformSession

__all__ = ["Prerequisite", "Prerequisites", "check_prerequisites"]


@dataclass(frozen=True)
class Prerequisite:
    """One thing the launch needs.

    Attributes:
        item: What it is.
        ok: Whether it is in place.
        detail: Its state, or what to do.
    """

    item: str
    ok: bool
    detail: str


@dataclass(frozen=True, repr=False)
class Prerequisites(MarkdownView):
    """The outcome of :func:`check_prerequisites`.

    Attributes:
        items: Each prerequisite.
        train_path: The training rows file.
        rows: How many rows it has (0 when missing).
        rehearsal: Whether the account is the local stand-in.
    """

    items: tuple[Prerequisite, ...]
    train_path: Path
    rows: int
    rehearsal: bool

    @property
    def ok(self) -> bool:
        """Everything is in place."""
        return all(i.ok for i in self.items)

    def table(self) -> str:
        """Markdown: one row per prerequisite."""
        where = "stand-in account (rehearsal)" if self.rehearsal else "Fireworks account"
        lines = [f"| needed for the launch ({where}) | in place | detail |", "|---|---|---|"]
        lines += [f"| {i.item} | {'yes' if i.ok else '**no**'} | {i.detail} |" for i in self.items]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.table()


def check_prerequisites(session: "PlatformSession", *, train_path: str | Path | None = None,
                        evaluator_id: str = RFT.evaluator_id) -> Prerequisites:
    """Check the training rows, the evaluator and the judge's secret (and, in a rehearsal, fill the gaps).

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        train_path: Notebook 01's training rows (default ``outputs/data/train.jsonl``).
        evaluator_id: The evaluator notebook 03 uploads.
    """
    path = Path(train_path) if train_path is not None else output_path(FILES.train, create_parent=False)
    items: list[Prerequisite] = []
    rows = len(read_rows(path)) if path.is_file() else 0
    items.append(Prerequisite("training rows", rows > 0, f"{rows} rows in `{shown_path(path)}`" if rows else
                              f"`{shown_path(path)}` is missing: run notebook 01, which writes it"))
    api = session.api
    ev = api.get_evaluator(evaluator_id)
    if session.rehearsal and (ev is None or not ev.active):
        _placeholder_evaluator(session, evaluator_id, replace=ev is not None)
        ev = api.get_evaluator(evaluator_id)
        detail = (f"`{evaluator_id}` {ev.state if ev else 'missing'}: a placeholder registered on the stand-in, "
                  "because notebook 03 has not uploaded it in this rehearsal")
    elif ev is None:
        detail = f"`{evaluator_id}` does not exist: run notebook 03, which uploads it"
    else:
        detail = f"`{evaluator_id}` is {ev.state}" + ("" if ev.active else ": wait for ACTIVE (notebook 03)")
    items.append(Prerequisite("evaluator", ev is not None and ev.active, detail))
    names = [n for n in RFT.judge_secret_names if api.secret_exists(n)]
    if not names and session.rehearsal:
        api.put_secret(RFT.judge_secret_names[-1], f"rehearsal-placeholder-{secrets.token_hex(12)}")
        names, note = [RFT.judge_secret_names[-1]], ": a random placeholder stored on the stand-in (no key is used)"
    else:
        note = ""
    items.append(Prerequisite("judge secret", bool(names), f"`{names[0]}` is stored{note}" if names else
                              f"none of {', '.join(RFT.judge_secret_names)} is stored: notebook 03's secret cell "
                              "stores the judge's key"))
    base = api.get_model(RFT.base_model)
    items.append(Prerequisite("base model", base is not None, f"`{RFT.base_model}` is visible" if base else
                              f"`{RFT.base_model}` is not visible to this account"))
    return Prerequisites(tuple(items), path, rows, session.rehearsal)


def _placeholder_evaluator(session: "PlatformSession", evaluator_id: str, *, replace: bool) -> None:
    """Upload svgkit's evaluator file as ``evaluator_id`` on the stand-in (a rehearsal only)."""
    if not session.rehearsal:
        raise ValueError("a placeholder evaluator is for rehearsals only: upload the real one with notebook 03")
    entry_file, _, _ = RFT.evaluator_entry_point.partition("::")
    with tempfile.TemporaryDirectory(prefix="svgkit-placeholder-evaluator-") as tmp:
        folder = Path(tmp) / "evaluator"
        folder.mkdir()
        shutil.copyfile(Path(__file__).resolve().parents[1] / "evaluator.py", folder / entry_file)
        (folder / "requirements.txt").write_text("# rehearsal placeholder: notebook 03 stages the real bundle\n"
                                                 "svgkit\n")
        session.api.create_evaluator(folder, evaluator_id, entry_point=RFT.evaluator_entry_point,
                                     display_name=f"{evaluator_id} (rehearsal placeholder)",
                                     description="placeholder registered by svgkit.rft in a rehearsal", replace=replace)
    poll_s, timeout_s = session.wait_timing(PLATFORM.evaluator_build_timeout_s)
    session.api.wait_for_evaluator(evaluator_id, poll_s=poll_s, timeout_s=timeout_s)
