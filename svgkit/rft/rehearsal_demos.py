"""Rehearsal-only demonstrations: what a failed job and a cancelled job look like, on the stand-in.

A live run should neither fail nor be cancelled on purpose, so notebook 04 shows both on the
local stand-in: it asks the stand-in to fail (or lets it run) a throwaway job, through the same
:func:`~svgkit.rft.launch_job`, :func:`~svgkit.rft.watch_job` and :func:`~svgkit.rft.cancel_job`
as the real job. These jobs use their own state file (``outputs/rft/demo-rehearsal.json``) and
output model names, so the notebook's real job record is never touched. Live, both refuse.
"""

import secrets
from typing import TYPE_CHECKING

from ..standin.fireworks import JobPlan
from .launch import CancelOutcome, cancel_job, launch_job
from .monitor import JobWatch, watch_job
from .paths import job_state_path
from .spec import RftJobSpec

if TYPE_CHECKING:
    from ..rehearsal import PlatformSession

__all__ = ["DEMO_FAILURE_MESSAGE", "rehearse_cancel", "rehearse_failure"]

#: The status message the rehearsed failure carries (a common real cause: no judge key remotely).
DEMO_FAILURE_MESSAGE = ("evaluation failed for 160 of 160 rollouts in chunk 2: the evaluator raised MissingKeyError "
                        "(OPENAI_API_KEY is not set in the evaluator environment)")


def rehearse_failure(session: "PlatformSession", spec: RftJobSpec, *, message: str = DEMO_FAILURE_MESSAGE,
                     at_percent: int = 30, progress: bool = True) -> JobWatch:
    """Launch a throwaway job that the stand-in fails at ``at_percent`` with ``message``, and watch it.

    Raises:
        ValueError: The session is live.
    """
    job_id, demo = _demo(session, spec, "failed")
    session.standin.plan_job(JobPlan("FAILED", "RUNNING", at_percent, message, "FAILED_PRECONDITION"), job_id=job_id)
    path = job_state_path(session, name="demo")
    launch_job(session, demo, allow=True, new_job=True, state_file=path)
    return watch_job(session, state_file=path, progress=progress)


def rehearse_cancel(session: "PlatformSession", spec: RftJobSpec, *, progress: bool = True) -> CancelOutcome:
    """Launch a throwaway job, watch it until it is RUNNING, then cancel it (twice: the second is a no-op).

    Raises:
        ValueError: The session is live.
    """
    job_id, demo = _demo(session, spec, "cancelled")
    path = job_state_path(session, name="demo")
    launch_job(session, demo, allow=True, new_job=True, state_file=path)
    poll_s, timeout_s = session.wait_timing(3600.0)
    session.api.wait_for_rft_job(job_id, poll_s=poll_s, timeout_s=timeout_s,
                                 until=lambda j: j.state == "RUNNING" or j.terminal)
    first = cancel_job(session, allow=True, state_file=path)
    again = cancel_job(session, allow=True, state_file=path)
    return CancelOutcome(first.action, again.job, f"{first.message} Rerun: {again.message}")


def _demo(session: "PlatformSession", spec: RftJobSpec, what: str) -> tuple[str, RftJobSpec]:
    if not session.rehearsal or session.standin is None:
        raise ValueError("this demonstration runs on the local stand-in only; a live job is never failed or "
                         "cancelled on purpose")
    tag = secrets.token_hex(3)
    job_id = f"svgkit-rft-demo-{what}-{tag}"
    return job_id, spec.replace(job_id=job_id, output_model=f"{spec.output_model}-demo-{what}-{tag}")
