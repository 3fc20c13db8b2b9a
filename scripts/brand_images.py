#!/usr/bin/env python3
"""Draw the integration's brand images into custom_components/cellular_iot/brand/.

Original artwork, no provider's trademark: a SIM card with signal bars on a rounded
square, and a logo of that icon beside the words "Cellular IoT". Drawn from code
with Pillow (a requirement of Home Assistant, so any test venv has it):

    .venv/bin/python scripts/brand_images.py

The same Pillow release draws the same bytes. The sizes follow Home Assistant's brand
rules: icons square, 256x256 and 512x512 (@2x); logos with the shortest side 128 px
(256 px for @2x); PNG with a transparent background, trimmed.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "custom_components/cellular_iot/brand"
SCALE = 4  # draw large, then scale down: smooth edges without antialiasing support
TEAL = (0, 150, 136, 255)
TEAL_DARK = (0, 121, 107, 255)
WHITE = (255, 255, 255, 255)
INK = (33, 33, 33, 255)


def draw_icon(size: int, background: tuple[int, int, int, int]) -> Image.Image:
    """A rounded square with a white SIM card holding four signal bars."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=background)
    # The SIM card: a portrait card with its top right corner cut off.
    left, top, right, bottom = big * 0.27, big * 0.16, big * 0.73, big * 0.84
    cut = big * 0.13
    draw.polygon(
        [(left, top), (right - cut, top), (right, top + cut), (right, bottom), (left, bottom)],
        fill=WHITE,
    )
    # Four signal bars, rising to the right, in the background colour.
    bars = 4
    bar_width = (right - left) * 0.13
    gap = (right - left - 2 * big * 0.06 - bars * bar_width) / (bars - 1)
    floor = bottom - big * 0.09
    for i in range(bars):
        x0 = left + big * 0.06 + i * (bar_width + gap)
        height = (bottom - top) * (0.16 + 0.13 * i)
        draw.rounded_rectangle(
            (x0, floor - height, x0 + bar_width, floor),
            radius=bar_width * 0.3,
            fill=background,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_logo(height: int, background: tuple[int, int, int, int], ink: tuple[int, int, int, int]) -> Image.Image:
    """The icon and the words "Cellular IoT" on one line, trimmed."""
    big = height * SCALE
    font = ImageFont.load_default(size=int(big * 0.5))
    words = "Cellular IoT"
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), words, font=font)
    gap = big // 5
    image = Image.new("RGBA", (big + gap + (right - left), big), (0, 0, 0, 0))
    image.alpha_composite(draw_icon(big, background), (0, 0))
    draw = ImageDraw.Draw(image)
    draw.text((big + gap - left, (big - (bottom - top)) // 2 - top), words, font=font, fill=ink)
    image = image.crop(image.getchannel("A").getbbox())
    width = round(image.width * height / image.height)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every brand image."""
    OUT.mkdir(exist_ok=True)
    images = {
        "icon.png": draw_icon(256, TEAL),
        "icon@2x.png": draw_icon(512, TEAL),
        "dark_icon.png": draw_icon(256, TEAL_DARK),
        "dark_icon@2x.png": draw_icon(512, TEAL_DARK),
        "logo.png": draw_logo(128, TEAL, INK),
        "logo@2x.png": draw_logo(256, TEAL, INK),
        "dark_logo.png": draw_logo(128, TEAL_DARK, WHITE),
        "dark_logo@2x.png": draw_logo(256, TEAL_DARK, WHITE),
    }
    for name, image in images.items():
        image.save(OUT / name, optimize=True)
        print(f"{OUT / name}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
