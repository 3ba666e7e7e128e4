"""Image captchas in front of the SMS code (anti-automation, security.md test 28; ASVS 2.4.1).

A random answer of :data:`LENGTH` characters drawn as a PNG with noise lines and dots (Pillow). Only its keyed
hash is stored (:mod:`.crypto`); the picture is kept with the row until it is used or expires.
"""

from __future__ import annotations

import io
import secrets

from PIL import Image, ImageDraw, ImageFont

ALPHABET = "ABCDEFHJKMNPRSTUVWXY3456789"
LENGTH = 5


def new_answer() -> str:
    """A fresh answer from the CSPRNG (tests replace this function to know the answer)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(answer: str) -> str:
    return "".join((answer or "").split()).upper()


def render_png(answer: str) -> bytes:
    """The answer drawn on a 160×56 picture with distracting lines and dots."""
    rnd = secrets.SystemRandom()
    width, height = 160, 56
    image = Image.new("RGB", (width, height), (244, 246, 250))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for _ in range(6):
        draw.line(
            [
                (rnd.randint(0, width), rnd.randint(0, height)),
                (rnd.randint(0, width), rnd.randint(0, height)),
            ],
            fill=(rnd.randint(120, 200), rnd.randint(120, 200), rnd.randint(120, 200)),
            width=2,
        )
    x = 10
    for ch in answer:
        draw.text(
            (x, rnd.randint(4, 14)),
            ch,
            font=font,
            fill=(rnd.randint(10, 90), rnd.randint(10, 90), rnd.randint(60, 140)),
        )
        x += 28
    for _ in range(180):
        draw.point((rnd.randint(0, width - 1), rnd.randint(0, height - 1)), fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
