"""Where notebook 04 keeps its files, and how they are shown (never as absolute paths)."""

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import RFT, output_dir, output_path

if TYPE_CHECKING:
    from ..rehearsal import PlatformSession

__all__ = ["job_state_path", "shown_path"]


def job_state_path(session: "PlatformSession", *, name: str = "job") -> Path:
    """The job state file: ``outputs/rft/job-live.json`` or ``outputs/rft/job-rehearsal.json``.

    One file per mode, so a rehearsal's job is never mistaken for a live one. Notebook 05 reads
    the same file to find the job and its output model.
    """
    return output_path(f"{RFT.state_dir}/{name}-{session.mode}.json")


def shown_path(path: str | Path) -> str:
    """``path`` as notebooks show it: ``outputs/...`` under the output folder, else relative or bare."""
    p = Path(path)
    out = output_dir(create=False)
    try:
        # always "outputs/", as the docstring says: the folder's own name differs between runs
        # (outputs/nbval under nbval), and the committed notebooks must read the same
        return f"outputs/{p.resolve().relative_to(out.resolve()).as_posix()}"
    except ValueError:
        pass
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name
