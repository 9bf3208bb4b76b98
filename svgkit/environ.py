"""Set environment variables for a ``with`` block and put back exactly what was there before.

One implementation for svgkit's temporary environments (the Fireworks client's upload call,
the stand-in's :meth:`~svgkit.standin.fireworks.FireworksStandin.activate`, a rehearsal's
:class:`~svgkit.rehearsal.PlatformSession`): :func:`patched_environ`.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping

__all__ = ["patched_environ"]


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block; afterwards unset what was unset, restore the rest."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
