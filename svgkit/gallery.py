"""Contact sheets: many rendered PNGs with captions, laid out in one PNG (PIL only).

``python -m svgkit.gallery [PATH]`` renders the bundled example responses (or, when they are not
there yet, a generated stress set) and writes ``assets/contact_sheet.png``.
"""

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["SheetItem", "contact_sheet", "default_examples", "write_contact_sheet"]

#: One tile: PNG bytes (``None`` draws a "not drawn" placeholder), a caption, and an optional
#: second caption line (e.g. the failure reason).
SheetItem = tuple[bytes | None, str] | tuple[bytes | None, str, str]

_FONT_CANDIDATES = ("LiberationSans-Regular.ttf", "DejaVuSans.ttf", "Arial.ttf")
_PACKAGE_DATA = Path(__file__).resolve().parent / "data" / "examples.jsonl"
_STAGING = Path("/work/staging")


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


def default_examples() -> list[dict]:
    """The bundled example responses (``svgkit/data/examples.jsonl``), else the staged parts.

    Returns an empty list when neither exists.
    """
    files = [_PACKAGE_DATA] if _PACKAGE_DATA.is_file() else sorted(_STAGING.glob("*/examples.jsonl"))
    rows = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _caption(row: dict, result) -> tuple[str, str]:
    name = str(row.get("example_id", "?"))
    quality = row.get("quality")
    caption = f"{name} ({quality})" if quality else name
    if result is None:
        return caption, ""
    if not result.ok:
        return caption, result.error or "failed"
    notes = [f.code for f in result.findings if f.severity in ("recovered", "removed")]
    return caption, ", ".join(notes)


def write_contact_sheet(path: str | Path | None = None) -> Path:
    """Render the bundled example responses and write them as one contact sheet.

    Falls back to :func:`svgkit.bench.stress_set` when no bundled examples exist.

    Args:
        path: Where to write the PNG (default: ``assets/contact_sheet.png`` of the checkout).

    Returns:
        The path written.
    """
    from svgkit.render import render_many
    from svgkit.svg import extract_svg

    out = Path(path) if path is not None else Path(__file__).resolve().parents[1] / "assets" / "contact_sheet.png"
    rows = default_examples()
    if rows:
        extractions = [extract_svg(row.get("response", "")) for row in rows]
        svgs = [e.svg for e in extractions]
        title = f"svgkit: {len(rows)} bundled example responses as rendered (sanitised, cairosvg)"
    else:
        from svgkit.bench import stress_set

        stress = stress_set()
        rows = [{"example_id": name} for name, _ in stress]
        extractions = [None] * len(rows)
        svgs = [svg for _, svg in stress]
        title = "svgkit: generated stress set as rendered (no bundled examples found)"
    results = render_many(svgs, progress=False)
    items: list[SheetItem] = []
    for row, result, extraction in zip(rows, results, extractions, strict=True):
        caption, second = _caption(row, result)
        if extraction is not None and extraction.svg is None:
            second = "truncated SVG" if extraction.truncated else "no SVG in the answer"
        items.append((result.png, caption, second))
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(items, columns=8, tile=180, title=title).save(out, optimize=True)
    return out


if __name__ == "__main__":
    print(write_contact_sheet(sys.argv[1] if len(sys.argv) > 1 else None))
