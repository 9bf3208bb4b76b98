"""Upload notebook 01's training rows as a Fireworks dataset, once per content.

The dataset id names the file's content (``svgkit-train-<first 16 hex digits of its SHA-256>``,
:func:`svgkit.fireworks_api.dataset_id_for`): an unchanged file reuses the dataset already
uploaded, a changed file (new rows, or the signal-filtered set) creates a new one and says so.
The upload waits, with a deadline, until the dataset is READY.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..config import FILES, PLATFORM, RFT, output_path
from ..fireworks_api import DatasetInfo, dataset_id_for
from .paths import shown_path
from .views import MarkdownView

if TYPE_CHECKING:
    from ..rehearsal import PlatformSession

__all__ = ["TrainingUpload", "upload_training_rows"]


@dataclass(frozen=True, repr=False)
class TrainingUpload(MarkdownView):
    """What :func:`upload_training_rows` did.

    Attributes:
        action: ``created`` (a first upload), ``new version`` (the file changed since an earlier
            upload), ``reused`` (same content: nothing uploaded) or ``planned`` (live without the opt-in).
        dataset_id: The dataset's id.
        dataset: The dataset now (``None`` when planned).
        path: The local file.
        rows: Its rows.
        sha256: Its content hash.
        earlier: Ids of earlier versions on the account.
        message: One sentence for the notebook.
        rehearsal: Whether the account is the local stand-in.
    """

    action: Literal["created", "new version", "reused", "planned"]
    dataset_id: str
    dataset: DatasetInfo | None
    path: Path
    rows: int
    sha256: str
    earlier: tuple[str, ...]
    message: str
    rehearsal: bool

    def _repr_markdown_(self) -> str:
        return self.message


def upload_training_rows(session: "PlatformSession", path: str | Path | None = None, *, allow: bool,
                         prefix: str = RFT.dataset_prefix, progress: bool = True) -> TrainingUpload:
    """Create the dataset for ``path`` unless one with the same content exists, then wait until READY.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        path: The rows (default notebook 01's ``outputs/data/train.jsonl``).
        allow: The cell's opt-in; live, without it nothing is uploaded and the outcome says what would
            be. Rehearsals always upload (to the stand-in).
        prefix: Dataset id prefix.
        progress: Show a progress line while waiting.

    Raises:
        FileNotFoundError: The file does not exist (run notebook 01).
        svgkit.fireworks_api.FireworksApiError: The service refused, or the deadline passed.
    """
    file = Path(path) if path is not None else output_path(FILES.train, create_parent=False)
    if not file.is_file():
        raise FileNotFoundError(f"{shown_path(file)} does not exist: run notebook 01, which writes the training rows")
    api = session.api
    rid = dataset_id_for(file, prefix=prefix)
    where = "the stand-in" if session.rehearsal else "Fireworks"
    existing = api.get_dataset(rid)
    if not session.rehearsal and not allow and not (existing and existing.ready):
        earlier = tuple(sorted(d.id for d in api.list_datasets() if d.id.startswith(f"{prefix}-") and d.id != rid))
        rows = sum(1 for line in file.read_text(encoding="utf-8").splitlines() if line.strip())
        return TrainingUpload("planned", rid, existing, file, rows, "", earlier,
                              f"Would upload {rows} rows of `{shown_path(file)}` as dataset `{rid}` on Fireworks: set "
                              "UPLOAD_DATASET = True in this cell to do it.", False)
    poll_s, timeout_s = session.wait_timing(PLATFORM.dataset_ready_timeout_s)
    bar = _Bar(progress, rid)
    try:
        up = api.ensure_dataset(file, prefix=prefix, display_name=f"svgkit training rows ({file.name})",
                                timeout_s=timeout_s, poll_s=poll_s, on_progress=bar.update)
        bar.done()
    finally:
        bar.close()
    if up.reused:
        action: Literal["created", "new version", "reused", "planned"] = "reused"
        message = (f"Reused dataset `{rid}` on {where}: `{shown_path(file)}` is unchanged ({up.rows} rows, sha256 "
                   f"{up.sha256[:12]}), so nothing was uploaded.")
    elif up.others:
        action = "new version"
        message = (f"Created dataset `{rid}` on {where}: `{shown_path(file)}` changed since the last upload "
                   f"({up.rows} rows, sha256 {up.sha256[:12]}); earlier versions: "
                   f"{', '.join(f'`{o}`' for o in up.others)}.")
    else:
        action = "created"
        message = (f"Created dataset `{rid}` on {where} from `{shown_path(file)}` ({up.rows} rows, sha256 "
                   f"{up.sha256[:12]}).")
    message += f" It is {up.dataset.state}."
    return TrainingUpload(action, rid, up.dataset, file, up.rows, up.sha256, up.others, message, session.rehearsal)


class _Bar:
    """A one-line progress display of a wait: one step, filled when the dataset is READY."""

    def __init__(self, enabled: bool, label: str) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=1, desc=f"dataset {label}", unit="dataset")

    def update(self, progress: object) -> None:
        if self._bar is not None:
            state = str(getattr(progress, "state", ""))
            self._bar.set_postfix_str(state, refresh=False)
            if state == "READY":
                self.done()

    def done(self) -> None:
        if self._bar is not None and self._bar.n < 1:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
