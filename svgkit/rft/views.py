"""How the records of :mod:`svgkit.rft` show themselves: as the Markdown a notebook renders."""

__all__ = ["MarkdownView"]


class MarkdownView:
    """A record whose ``repr`` is its Markdown view (``_repr_markdown_``).

    Jupyter stores a plain-text copy of every output next to the Markdown; with this it is the
    same readable text, never a dump of fields (which would hold absolute paths and long ids).
    Use with ``@dataclass(repr=False)`` so the dataclass does not replace it.
    """

    def _repr_markdown_(self) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._repr_markdown_()
