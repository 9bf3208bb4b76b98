"""Where a notebook's Fireworks steps go: the real control plane, or a rehearsal on the local stand-in.

Notebooks 03, 04 and 05 open one :class:`PlatformSession` at their top with :func:`open_platform`:

- **live** when the step's mode is live (``FIREWORKS_API_KEY`` set, ``SVGKIT_MODE`` not
  ``offline``, and the notebook's spending opt-in given, see :func:`svgkit.config.with_spending`):
  calls go to Fireworks;
- otherwise a **rehearsal**: a :class:`~svgkit.standin.fireworks.FireworksStandin` starts on
  ``127.0.0.1`` with its state kept under ``outputs/standin/`` (so what notebook 03 uploads,
  notebook 04 finds after a kernel restart), and eval-protocol and the ``fireworks`` SDK are
  pointed at it for the life of the session. Nothing leaves the machine.

Either way the cells run the same code through the same clients; only the base URL differs.
"""

import atexit
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .config import PLATFORM, REHEARSAL, Settings, Step, get_settings, output_path
from .environ import patched_environ
from .fireworks_api import FireworksApi, connect
from .standin.fireworks import Call, FireworksStandin

__all__ = ["PlatformSession", "open_platform"]


@dataclass
class PlatformSession:
    """A connection to the Fireworks control plane for one notebook, live or rehearsed.

    Attributes:
        mode: ``live`` (Fireworks) or ``rehearsal`` (the local stand-in).
        api: The client every Fireworks cell uses.
        standin: The running stand-in in a rehearsal, else ``None``.
        state_dir: Where the stand-in keeps its resources (rehearsal only).
    """

    mode: Literal["live", "rehearsal"]
    api: FireworksApi
    standin: FireworksStandin | None = None
    state_dir: Path | None = None
    _environment: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @property
    def rehearsal(self) -> bool:
        """Whether calls go to the local stand-in."""
        return self.mode == "rehearsal"

    @property
    def banner(self) -> str:
        """One line for the top of a notebook: where its Fireworks calls go."""
        if self.rehearsal:
            return ("Fireworks steps: rehearsal on a local stand-in (svgkit.standin.fireworks); "
                    "nothing leaves this machine and nothing is billed.")
        return f"Fireworks steps: LIVE on {self.api.base_url} (account {self.api.account_id})."

    def transcript(self) -> Sequence[Call]:
        """The requests a live run would have sent (rehearsal only; empty when live)."""
        return self.standin.transcript() if self.standin is not None else ()

    @property
    def speed(self) -> float:
        """Simulated seconds per wall-clock second: 1 live, the stand-in's clock speed in a rehearsal."""
        return self.standin.clock.speed if self.standin is not None and self.standin.clock.speed > 0 else 1.0

    def wait_timing(self, timeout_s: float) -> tuple[float, float]:
        """``(poll_s, timeout_s)`` for a wait that may take ``timeout_s`` on Fireworks.

        Live: :attr:`PlatformConfig.poll_interval_s <svgkit.config.PlatformConfig>` and ``timeout_s``.
        In a rehearsal the stand-in's clock runs :attr:`speed` times faster, so the deadline shrinks
        by that factor and polls come every :attr:`RehearsalConfig.poll_s <svgkit.config.RehearsalConfig>` wall seconds.
        """
        if not self.rehearsal:
            return PLATFORM.poll_interval_s, timeout_s
        return REHEARSAL.poll_s, max(timeout_s / self.speed, 5 * REHEARSAL.poll_s)

    def requests_table(self, *, since: int = 0) -> str:
        """Markdown: the requests the rehearsal sent from request number ``since`` on (what live would send).

        Repeated identical requests (the polls of a wait) are folded into one row with a count;
        query strings and signed-URL tokens are left out. Live, a sentence saying so.
        """
        if self.standin is None:
            return "Live run: the requests went to Fireworks (only rehearsals record them)."
        rows: list[list[object]] = []
        for call in list(self.standin.transcript(include_storage=True))[since:]:
            path = call.path.split("?", 1)[0]
            if path.startswith("/standin-storage/"):
                path = f"(signed URL) {path.rsplit('/', 1)[-1]}"
            if rows and rows[-1][:3] == [call.method, path, call.status]:
                rows[-1][3] += 1  # type: ignore[operator]
            else:
                rows.append([call.method, path, call.status, 1])
        lines = ["| # | method | path | status | times |", "|---:|---|---|---:|---:|"]
        lines += [f"| {i} | {m} | `{p}` | {s} | {n} |" for i, (m, p, s, n) in enumerate(rows, 1)]
        return "\n".join(lines)

    def request_count(self) -> int:
        """How many requests the rehearsal has recorded so far (0 live): a mark for :meth:`requests_table`."""
        return len(self.standin.transcript(include_storage=True)) if self.standin is not None else 0

    def close(self) -> None:
        """Stop the stand-in and restore the environment; safe to call twice."""
        self._environment.close()
        if self.standin is not None:
            self.standin.stop()
            self.standin = None


def open_platform(step: Step, settings: Settings | None = None, *, state_dir: Path | str | None = None,
                  speed: float = REHEARSAL.speed) -> PlatformSession:
    """Connect the notebook's Fireworks steps: live when ``step`` is live, else a rehearsal.

    Args:
        step: The notebook's step (``upload``, ``rft``): its mode decides (see
            :meth:`svgkit.config.Settings.mode`).
        settings: Mode, keys and opt-in (default :func:`svgkit.config.get_settings`).
        state_dir: Where a rehearsal keeps its resources (default ``outputs/standin``).
        speed: Simulated seconds per wall-clock second in a rehearsal, so a job that takes hours
            on Fireworks takes seconds here.

    Raises:
        MissingKeyError: ``SVGKIT_MODE=live`` but ``FIREWORKS_API_KEY`` is not set.
    """
    settings = settings or get_settings()
    if settings.mode(step) == "live":
        return PlatformSession("live", connect(settings))
    folder = Path(state_dir) if state_dir is not None else output_path(REHEARSAL.state_dir, create_parent=True)
    folder.mkdir(parents=True, exist_ok=True)
    standin = FireworksStandin(speed=speed, state_dir=folder).start()
    with contextlib.ExitStack() as on_error:  # a failed connect stops the stand-in and restores the environment
        on_error.callback(standin.stop)
        environment = on_error.enter_context(contextlib.ExitStack())
        environment.enter_context(patched_environ(standin.environment()))
        api = connect(settings, api_key=standin.rehearsal_key, base_url=standin.url,
                      account_id=standin.account_id)
        on_error.pop_all()  # connected: the session owns both from here
    session = PlatformSession("rehearsal", api, standin, folder, environment)
    atexit.register(session.close)
    return session
