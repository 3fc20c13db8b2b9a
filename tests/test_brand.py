"""The brand images HA 2026.3+ serves from custom_components/cellular_iot/brand/.

Home Assistant's brand rules: PNG; icons square, 256x256 (icon@2x 512x512); logos
with the shortest side 128-256 px (@2x: 256-512, twice the 1x); transparent
background, trimmed (no empty border). scripts/brand_images.py draws them.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
import pytest

from custom_components.cellular_iot.const import DOMAIN

BRAND = Path(__file__).parent.parent / "custom_components" / DOMAIN / "brand"
ICONS = ["icon.png", "icon@2x.png", "dark_icon.png", "dark_icon@2x.png"]
LOGOS = ["logo.png", "logo@2x.png", "dark_logo.png", "dark_logo@2x.png"]


def _open(name: str) -> Image.Image:
    image = Image.open(BRAND / name)
    assert image.format == "PNG", name
    assert image.mode == "RGBA", name
    return image


@pytest.mark.parametrize("name", ICONS + LOGOS)
def test_transparent_and_trimmed(name: str) -> None:
    image = _open(name)
    alpha = image.getchannel("A")
    assert alpha.getbbox() == (0, 0, image.width, image.height), "not trimmed"
    assert alpha.getextrema()[0] == 0, "no transparent background"


@pytest.mark.parametrize("name", ICONS)
def test_icon_sizes(name: str) -> None:
    size = 512 if "@2x" in name else 256
    assert _open(name).size == (size, size)


@pytest.mark.parametrize("name", ["logo.png", "dark_logo.png"])
def test_logo_sizes(name: str) -> None:
    logo = _open(name)
    double = _open(name.replace(".png", "@2x.png"))
    assert 128 <= min(logo.size) <= 256
    assert 256 <= min(double.size) <= 512
    assert abs(double.width - 2 * logo.width) <= 2
    assert double.height == 2 * logo.height
    assert logo.width >= logo.height  # landscape, as the brand rules prefer


def test_nothing_else_in_the_brand_folder() -> None:
    assert sorted(p.name for p in BRAND.iterdir()) == sorted(ICONS + LOGOS)
