"""The closing summary of notebook 04: what was checked, estimated, uploaded and launched."""

from ..display import Markdown
from .estimate import RftEstimate
from .launch import OutputModel
from .learning_signal import SignalCheck
from .monitor import JobWatch
from .training_data import TrainingUpload

__all__ = ["launch_summary"]


def launch_summary(*, signal: SignalCheck, estimate: RftEstimate, upload: TrainingUpload, watch: JobWatch,
                   output: OutputModel) -> Markdown:
    """One table of the notebook's outcome, free of ids that change from run to run (job ids, times)."""
    where = "rehearsal on the local stand-in" if upload.rehearsal else "Fireworks (live)"
    total = f"${estimate.total_usd:,.2f}" if estimate.total_usd is not None else "incomplete (see the estimate)"
    signal_row = (f"{len(signal.without_signal)} of {len(signal.prompts)} prompts have zero reward spread "
                  f"({'bundled example answers' if signal.source == 'bundled-example' else 'live samples'})"
                  if signal.status == "ok" else f"not run: {signal.status}")
    model = output.model.name.rsplit("/", 1)[-1] if output.model is not None else "none yet"
    lines = [
        "| figure | value |", "|---|---|",
        f"| where the Fireworks steps ran | {where} |",
        f"| training rows | {upload.rows} |",
        f"| learning signal | {signal_row} |",
        f"| estimated cost | {total} ({estimate.rollouts:,} rollouts, {estimate.judge_calls:,} judge calls; "
        f"training {'free' if estimate.training_usd == 0 else 'priced separately'}) in "
        f"{estimate.hours_low:.1f}-{estimate.hours_high:.1f} h |",
        f"| dataset | `{upload.dataset_id}` |",
        f"| job | {watch.job.state}{' (still running)' if watch.timed_out else ''} |",
        f"| output model | `{model}` |",
    ]
    return Markdown("\n".join(lines))
