"""Galleries: contact sheets of rendered answers, and per-requirement verdict views.

- :func:`contact_sheet` / :func:`answers_sheet`: many rendered PNGs with captions in one image.
- :func:`verdict_figure`: static (GitHub-friendly) pictures beside their requirement verdicts.
- :func:`gallery_widget`: the same, interactive, with ipywidgets.

``python -m svgkit.gallery [PATH]`` renders the bundled example responses and writes
``assets/contact_sheet.png``.
"""

import base64
import html
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from .plots import PlotFigure
    from .scoring import RequirementResult, ScoredAnswer

__all__ = [
    "STATIC_NOTE",
    "SheetItem",
    "answer_html",
    "answer_png",
    "answers_sheet",
    "contact_sheet",
    "gallery_widget",
    "pick_showcase",
    "verdict_figure",
    "verdict_note",
    "write_contact_sheet",
]

#: One tile: PNG bytes (``None`` draws a "not drawn" placeholder), a caption, and an optional
#: second caption line (e.g. the failure reason).
SheetItem = tuple[bytes | None, str] | tuple[bytes | None, str, str]

_FONT_CANDIDATES = ("LiberationSans-Regular.ttf", "DejaVuSans.ttf", "Arial.ttf")


def _font(size: int) -> ImageFont.ImageFont:
    for name in _FONT_CANDIDATES:
        for folder in ("", "/usr/share/fonts/truetype/liberation/", "/usr/share/fonts/truetype/dejavu/"):
            try:
                return ImageFont.truetype(folder + name, size)
            except OSError:
                continue
    return ImageFont.load_default()


def _fit(text: str, font: ImageFont.ImageFont, width: int, draw: ImageDraw.ImageDraw) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def contact_sheet(
    items: Sequence[SheetItem],
    *,
    columns: int = 6,
    tile: int = 200,
    caption_lines: int = 2,
    background: str = "#f2f2f2",
    title: str | None = None,
) -> Image.Image:
    """Lay out PNGs with captions in a grid.

    Each picture is scaled to fit a ``tile`` x ``tile`` box (aspect ratio kept, never
    enlarged more than 4x), framed, and captioned underneath. Items without PNG bytes, or
    whose bytes are not an image, get a grey "not drawn" placeholder.

    Args:
        items: ``(png_bytes_or_None, caption)`` or ``(png, caption, second_line)`` tuples.
        columns: Tiles per row.
        tile: Side of the square box each picture is fitted into, in pixels.
        caption_lines: Caption lines under each tile (1 or 2).
        background: Sheet colour (any PIL colour).
        title: Optional heading across the top.

    Returns:
        The sheet as a PIL image (``.save(path)`` to write it).

    Raises:
        ValueError: ``items`` is empty, or ``columns``/``tile``/``caption_lines`` is out of range.
    """
    if not items:
        raise ValueError("contact_sheet needs at least one item")
    if columns < 1 or tile < 16 or caption_lines not in (1, 2):
        raise ValueError("columns must be >= 1, tile >= 16 and caption_lines 1 or 2")
    pad, line_h = 10, 16
    font, small = _font(13), _font(11)
    title_h = 34 if title else 0
    cell_w, cell_h = tile + pad, tile + pad + caption_lines * line_h + 4
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_w + pad, rows * cell_h + pad + title_h), background)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 8), _fit(title, _font(18), sheet.width - 2 * pad, draw), fill="#222", font=_font(18))
    for index, item in enumerate(items):
        png, caption = item[0], item[1]
        second = item[2] if len(item) > 2 else ""
        x0 = pad + (index % columns) * cell_w
        y0 = pad + title_h + (index // columns) * cell_h
        picture = None
        if png:
            try:
                picture = Image.open(io.BytesIO(png))
                picture.load()
                picture = picture.convert("RGB")
            except Exception:  # noqa: BLE001 - a broken PNG becomes a placeholder tile
                picture = None
        if picture is not None:
            scale = min(tile / picture.width, tile / picture.height, 4.0)
            size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
            picture = picture.resize(size, Image.LANCZOS)
            px, py = x0 + (tile - size[0]) // 2, y0 + (tile - size[1]) // 2
            sheet.paste(picture, (px, py))
            draw.rectangle((px - 1, py - 1, px + size[0], py + size[1]), outline="#999")
        else:
            draw.rectangle((x0, y0, x0 + tile - 1, y0 + tile - 1), fill="#d9d9d9", outline="#999")
            label = "not drawn"
            draw.text((x0 + (tile - draw.textlength(label, font=font)) / 2, y0 + tile / 2 - 8), label,
                      fill="#555", font=font)
        ty = y0 + tile + 4
        draw.text((x0, ty), _fit(caption, font, tile, draw), fill="#111", font=font)
        if caption_lines == 2 and second:
            draw.text((x0, ty + line_h), _fit(second, small, tile, draw), fill="#a33", font=small)
    return sheet


def _caption(extraction: Any, result: Any) -> str:
    if extraction.truncated:
        return "truncated SVG"
    if extraction.svg is None:
        return "no SVG in the answer"
    if not result.ok:
        return result.error or "failed"
    return ", ".join(f.code for f in result.findings if f.severity in ("recovered", "removed"))


def answers_sheet(answers: Sequence[Any], *, columns: int = 6, tile: int = 200,
                  title: str | None = None, progress: bool = False) -> Image.Image:
    """Render answers safely and lay them out as a contact sheet.

    Args:
        answers: Objects with a ``response`` text and an ``example_id`` or ``row_id``
            (generations, bundled examples, scored answers).
        columns: Tiles per row.
        tile: Tile size in pixels.
        title: Heading of the sheet.
        progress: Show a progress bar while rendering.
    """
    from .render import render_many
    from .svg import extract_svg

    extractions = [extract_svg(getattr(a, "response", None) or "") for a in answers]
    results = render_many([e.svg for e in extractions], progress=progress)
    items: list[SheetItem] = []
    for answer, extraction, result in zip(answers, extractions, results, strict=True):
        name = getattr(answer, "example_id", None) or getattr(answer, "row_id", "?")
        quality = getattr(answer, "quality", None)
        items.append((result.png if result.ok else None, f"{name} ({quality})" if quality else str(name),
                      _caption(extraction, result)))
    return contact_sheet(items, columns=columns, tile=tile, title=title)


def write_contact_sheet(path: str | Path | None = None) -> Path:
    """Render the bundled example responses and write them as one contact sheet.

    Args:
        path: Where to write the PNG (default: ``assets/contact_sheet.png`` of the checkout).

    Returns:
        The path written.
    """
    from .dataset import load_examples

    out = Path(path) if path is not None else Path(__file__).resolve().parents[1] / "assets" / "contact_sheet.png"
    examples = load_examples()
    title = f"svgkit: {len(examples)} bundled example responses as rendered (sanitised, cairosvg)"
    out.parent.mkdir(parents=True, exist_ok=True)
    answers_sheet(examples, columns=8, tile=180, title=title).save(out, optimize=True)
    return out

# --------------------------------------------------------------------------- scored answers
def answer_png(answer: "ScoredAnswer") -> bytes | None:
    """The answer's picture as PNG, or ``None`` when nothing could be drawn.

    A scored answer's picture is the render the reward judged (:attr:`svgkit.scoring.ScoredAnswer.render`),
    never drawn twice; only an answer that does not carry one (built by hand, or scored elsewhere)
    is rendered here, safely, the way the reward renders it.
    """
    kept = getattr(answer, "render", None)
    if kept is not None:
        return kept.png if kept.ok else None
    from .render import render_png
    from .svg import extract_svg

    extraction = extract_svg(answer.response or "")
    if extraction.svg is None or extraction.truncated:
        return None
    result = render_png(extraction.svg)
    return result.png if result.ok else None


def _mark(item: "RequirementResult") -> str:
    return "✓" if item.fulfilled else ("✗" if item.decided else "?")


def verdict_figure(answers: Sequence["ScoredAnswer"], *, wrap: int = 60) -> "PlotFigure":
    """Static gallery (works on GitHub): each answer's picture beside its requirement verdicts.

    ✓ fulfilled, ✗ not fulfilled, ? undecided (counted unfulfilled). Where hand-made labels
    exist, a verdict that disagrees with its label is shown in red with the label in brackets.
    """
    import textwrap

    from PIL import Image

    from .plots import PlotFigure

    fig = PlotFigure(figsize=(13, 4.2 * max(1, len(answers))), layout="constrained")
    axes = fig.subplots(max(1, len(answers)), 2, squeeze=False, width_ratios=[1, 1.5])
    for (img_ax, txt_ax), answer in zip(axes, answers, strict=False):
        png = answer_png(answer)
        img_ax.set_xticks([])
        img_ax.set_yticks([])
        if png:
            img_ax.imshow(Image.open(io.BytesIO(png)).convert("RGB"))
        else:
            img_ax.text(0.5, 0.5, "nothing drawn", ha="center", va="center", color="#aa0000")
        img_ax.set_title(f"{answer.example_id or answer.row_id}: score {answer.score:.2f}"
                         + ("" if answer.result.is_score_valid else " (invalid)"), fontsize=10)
        txt_ax.axis("off")
        y = 1.0
        txt_ax.text(0, y, textwrap.shorten(answer.prompt, 95), fontsize=9, weight="bold", va="top")
        y -= 0.08
        for item in answer.items:
            label = answer.labels[item.index] if answer.labels else None
            wrong = label is not None and label != item.fulfilled
            suffix = f"  [label: {'yes' if label else 'no'}]" if wrong else ""
            text = textwrap.shorten(f"{_mark(item)} {item.index + 1}. {item.text}", wrap + 40) + suffix
            txt_ax.text(0, y, text, fontsize=8, va="top", color="#b00000" if wrong else "black")
            y -= 0.075
        txt_ax.text(0, max(y, 0.0), textwrap.shorten(answer.result.reason or "", 140), fontsize=7,
                    va="top", color="#555555", style="italic")
    return fig


def verdict_note(answer: "ScoredAnswer") -> str:
    """A plain-language reading of an answer's score, for the moment a reader first sees it.

    Says how many requirements were fulfilled, not fulfilled and undecided, what *undecided*
    means (the judge could not tell; it counts as not fulfilled), the hand-made labels' score
    when there is one, and, for the rule judge, that it is the offline stand-in for the vision
    judge. Empty when every requirement was decided and there is nothing to explain.
    """
    items = answer.items
    undecided = sum(not i.decided for i in items)
    if not items or not undecided:
        return ""
    fulfilled = sum(i.fulfilled for i in items)
    parts = [f"{fulfilled} ✓ fulfilled, {len(items) - fulfilled - undecided} ✗ not fulfilled, "
             f"{undecided} ? undecided. Undecided means the judge could not tell from the picture; "
             "it counts as not fulfilled, so the score is a floor."]
    if answer.labels:
        parts.append(f"By the hand-made labels this answer scores {sum(answer.labels) / len(answer.labels):.2f}.")
    if answer.judge == "rule":
        parts.append("The rule judge is the offline stand-in: it decides only what it can measure (colours, text, "
                     "background, rough positions); the vision judge, live with a key, decides every requirement.")
    return " ".join(parts)


def answer_html(answer: "ScoredAnswer") -> str:
    """One answer as HTML: prompt, picture, each requirement with verdict, reason and label, score."""
    png = answer_png(answer)
    image = (f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" style="max-width:420px;'
             'border:1px solid #ccc"/>' if png else '<p style="color:#a00">nothing drawn</p>')
    rows = []
    for item in answer.items:
        label = answer.labels[item.index] if answer.labels else None
        label_cell = "" if label is None else ("yes" if label else "no")
        colour = "#b00000" if label is not None and label != item.fulfilled else "inherit"
        rows.append(f'<tr style="color:{colour}"><td>{_mark(item)}</td><td>{html.escape(item.text)}</td>'
                    f"<td>{html.escape(item.reason)}</td><td>{label_cell}</td></tr>")
    validity = "" if answer.result.is_score_valid else " <b>(invalid score)</b>"
    note = verdict_note(answer)
    return (f"<h4>{html.escape(answer.example_id or answer.row_id)}: score {answer.score:.2f}{validity}</h4>"
            + (f'<p style="max-width:720px">{html.escape(note)}</p>' if note else "")
            + f"<p>{html.escape(answer.prompt)}</p>{image}"
            "<table><tr><th></th><th>requirement</th><th>judge's reason</th><th>label</th></tr>"
            + "".join(rows) + f"</table><p><i>{html.escape(answer.result.reason or '')}</i></p>")


#: Shown above the static copy of the gallery (GitHub, an untrusted notebook, a notebook not yet run).
STATIC_NOTE = "Static copy of the first answer: run the notebook to pick other answers in the interactive gallery."


def gallery_widget(answers: Sequence["ScoredAnswer"]) -> Any:
    """An ipywidgets gallery: pick an answer, see its picture, verdicts and score.

    Its display also carries a static HTML copy of the first answer (with :data:`STATIC_NOTE`),
    which is what GitHub and an untrusted or not yet run notebook show instead of the widget.
    """
    import ipywidgets as widgets

    options = [(f"{a.example_id or a.row_id}  ·  {a.score:.2f}", i) for i, a in enumerate(answers)]
    picker = widgets.Dropdown(options=options, description="answer", layout=widgets.Layout(width="420px"))
    first = answer_html(answers[0]) if answers else "no answers"
    view = widgets.HTML(first)

    def show(change: dict[str, Any]) -> None:
        view.value = answer_html(answers[change["new"]])

    picker.observe(show, names="value")
    static = f'<p><i>{html.escape(STATIC_NOTE)}</i></p>{first}'
    return _with_static_copy(widgets.VBox([picker, view]), static)


def _with_static_copy(widget: Any, static_html: str) -> Any:
    """``widget``, displayed with an HTML fallback beside the widget view."""
    plain = type(widget)._repr_mimebundle_

    def _repr_mimebundle_(**kwargs: Any) -> dict[str, Any] | None:
        bundle = plain(widget, **kwargs)
        if bundle is not None:
            bundle["text/html"] = static_html
        return bundle

    widget._repr_mimebundle_ = _repr_mimebundle_
    return widget


def pick_showcase(answers: Sequence["ScoredAnswer"], *, n: int = 4) -> list["ScoredAnswer"]:
    """A few answers worth looking at: the best, the worst drawn one, and spread in between.

    Deterministic: answers are ordered by score (then id) and picked at even intervals, so a
    notebook shows the same ones on every run.
    """
    drawn = [a for a in answers if a.response]
    ordered = sorted(drawn, key=lambda a: (-a.score, a.example_id or a.row_id))
    if len(ordered) <= n:
        return ordered
    step = (len(ordered) - 1) / (n - 1) if n > 1 else 0
    return [ordered[round(i * step)] for i in range(n)]


if __name__ == "__main__":
    print(write_contact_sheet(sys.argv[1] if len(sys.argv) > 1 else None))
