"""Tray icon images: the logtray art with a status dot, a badge and a snooze mark.

Pure (state in, image out) and drawn at the size asked for, so the marks stay legible from
16 to 32 px: the status dot takes the lower-right quarter, the badge the upper-right.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

from logtray.tray.desktop.state import IconKind

STATUS_COLOURS: dict[IconKind, tuple[int, int, int]] = {
    "stopped": (144, 164, 174),  # grey
    "starting": (66, 165, 245),  # blue
    "healthy": (67, 160, 71),  # green
    "degraded": (251, 140, 0),  # orange
    "problem": (198, 40, 40),  # red, with a "!": something failed (see the menu)
    "snoozed": (126, 87, 194),  # violet
}
BADGE_COLOUR = (229, 57, 53)


@lru_cache(maxsize=4)
def _base(size: int) -> Image.Image:
    art = resources.files("logtray.icons") / "tray.png"
    with resources.as_file(art) as path, Image.open(path) as image:
        base: Image.Image = image.convert("RGBA").resize((size, size), Image.Resampling.LANCZOS)
    return base


def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", px)
    except OSError:
        return ImageFont.load_default()


def render_icon(kind: IconKind, badge: int = 0, size: int = 64) -> Image.Image:
    image = _base(size).copy()
    draw = ImageDraw.Draw(image)
    dot = size * 0.46
    box = (size - dot, size - dot, size - 1, size - 1)
    draw.ellipse(box, fill=STATUS_COLOURS[kind], outline=(255, 255, 255), width=max(1, size // 24))
    if kind in ("snoozed", "problem"):
        # "z": notifications are held back; "!": something failed
        font = _font(int(dot * 0.8))
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        mark = "z" if kind == "snoozed" else "!"
        draw.text(centre, mark, fill=(255, 255, 255), font=font, anchor="mm")
    elif kind == "starting":
        inner = dot * 0.3
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=(255, 255, 255))
    if badge > 0:
        text = str(badge) if badge < 100 else "99+"
        side = size * (0.5 if len(text) < 3 else 0.62)
        badge_box = (size - side, 0, size - 1, side * 0.9)
        draw.rounded_rectangle(badge_box, radius=side * 0.45, fill=BADGE_COLOUR)
        font = _font(int(side * (0.7 if len(text) == 1 else 0.55)))
        centre = ((badge_box[0] + badge_box[2]) / 2, (badge_box[1] + badge_box[3]) / 2)
        draw.text(centre, text, fill=(255, 255, 255), font=font, anchor="mm")
    return image
