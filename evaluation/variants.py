"""Real documents as real captures come: each annotated image of a folder (the specimens) turned
90, 270 and 180 degrees, at half size, saved as a JPEG at quality 30, tilted a few degrees
either way and 8 degrees one way, and as a phone photo (perspective, smaller, JPEG), with its
ground-truth boxes mapped to the new pixels. The result is a folder `redactor eval` reads.

    .venv/bin/python -m evaluation.variants ../shared/specimens /tmp/specimen-variants
    .venv/bin/redactor eval /tmp/specimen-variants
    .venv/bin/python -m evaluation.variants --stress sample_docs /tmp/sample-stress

The variants are written outside the project: the specimens are not ours to copy into it.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


@dataclass(frozen=True)
class Capture:
    turn: int = 0  # clockwise quarter turn, degrees
    scale: float = 1.0
    quality: int = 90  # JPEG
    tilt: float = 0.0  # degrees, counter-clockwise: a card laid askew on the scanner
    keystone: float = 0.0  # the top edge this share narrower: a phone held below the document


VARIANTS = {
    "rot90": Capture(turn=90),
    "rot270": Capture(turn=270),
    "rot180": Capture(turn=180),
    "half": Capture(scale=0.5, quality=85),
    "q30": Capture(quality=30),
    "tilt3": Capture(tilt=3.0),
    "tilt-4": Capture(tilt=-4.0),
    "tilt8": Capture(tilt=8.0),
    "phone": Capture(scale=0.7, quality=60, tilt=-2.0, keystone=0.08),
}
# Harder captures than the set above (`--stress`): a 600 dpi scan, strong tilts, a quarter
# turn and a tilt together, a steep phone photo.
STRESS = {
    "x2": Capture(scale=2.0),
    "tilt-12": Capture(tilt=-12.0),
    "rot90tilt5": Capture(turn=90, tilt=5.0),
    "rot270tilt-6": Capture(turn=270, tilt=-6.0),
    "key15": Capture(scale=0.8, quality=55, tilt=3.0, keystone=0.15),
}
BOXED = ("portraits", "personal_numbers", "qr_codes", "keep_fields")
# The scanner lid or the table around a card.
BACKGROUND = (96, 96, 96)


def turned_box(box: list[float], degrees: int, width: int, height: int) -> list[float]:
    """A box on a width x height image, where it lands when the image turns `degrees` clockwise."""
    x0, y0, x1, y1 = box
    if degrees == 90:
        return [height - y1, x0, height - y0, x1]
    if degrees == 180:
        return [width - x1, height - y1, width - x0, height - y0]
    if degrees == 270:
        return [y0, width - x1, y1, width - x0]
    return list(box)


def _warp(width: int, height: int, capture: Capture) -> tuple[np.ndarray, tuple[int, int]]:
    """The 3x3 perspective that tilts and keystones a width x height image, and the size of
    the picture that holds all of it."""
    w, h = float(width), float(height)
    inset = capture.keystone * w / 2
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    target = np.float32([[inset, 0], [w - inset, 0], [w, h], [0, h]])
    angle = np.radians(capture.tilt)
    turn = np.float32([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    target = (target - [w / 2, h / 2]) @ turn.T
    target -= target.min(axis=0)
    size = (int(np.ceil(target[:, 0].max())) + 1, int(np.ceil(target[:, 1].max())) + 1)
    return cv2.getPerspectiveTransform(corners, target.astype(np.float32)), size


def _warped_box(box: list[float], matrix: np.ndarray) -> list[float]:
    """Where a box lands under a small tilt or keystone, as an upright box of its size around
    its new centre: the judge looks inside (numbers) and at most of (photos) that box."""
    x0, y0, x1, y1 = box
    corners = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), matrix)[0]
    cx, cy = corners.mean(axis=0)
    half_w = (np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])) / 4
    half_h = (np.linalg.norm(corners[3] - corners[0]) + np.linalg.norm(corners[2] - corners[1])) / 4
    return [float(cx - half_w), float(cy - half_h), float(cx + half_w), float(cy + half_h)]


def variant(entry: dict, image: Image.Image, name: str, capture: Capture | None = None) -> tuple[dict, bytes]:
    """`entry`'s image as captured by VARIANTS[name] (or by `capture`, named `name`)."""
    capture = capture or VARIANTS[name]
    width, height = image.size
    out = copy.deepcopy(entry)
    out["file"] = f"{Path(entry['file']).stem}_{name}.jpg"
    boxed = [item for key in BOXED for item in out.get(key, []) if "box" in item]
    picture = image
    if capture.tilt or capture.keystone:
        matrix, size = _warp(width, height, capture)
        pixels = cv2.warpPerspective(np.asarray(image), matrix, size, flags=cv2.INTER_LINEAR, borderValue=BACKGROUND)
        picture = Image.fromarray(pixels)
        for item in boxed:
            item["box"] = _warped_box(item["box"], matrix)
        # A box mapped this way is only near the thing it marks: judge it as hand-drawn.
        out["box_precision"] = "hand"
    if capture.turn:
        for item in boxed:
            item["box"] = turned_box(item["box"], capture.turn, *picture.size)
        picture = picture.rotate(-capture.turn, expand=True)
        out["rotation"] = (int(entry.get("rotation", 0)) + capture.turn) % 360
    if capture.scale != 1.0:
        picture = picture.resize((round(picture.width * capture.scale), round(picture.height * capture.scale)), Image.LANCZOS)
        for item in boxed:
            item["box"] = [c * capture.scale for c in item["box"]]
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=capture.quality)
    return out, buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a folder with images and annotations.json")
    parser.add_argument("out", type=Path, help="where the variants and their annotations.json go")
    parser.add_argument("--stress", action="store_true", help="the harder captures (STRESS) instead")
    args = parser.parse_args(argv)
    captures = STRESS if args.stress else VARIANTS
    try:
        entries = json.loads((args.source / "annotations.json").read_text())
    except (OSError, ValueError) as exc:
        print(f"variants: cannot read {args.source / 'annotations.json'} ({exc})", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in entries:
        if entry.get("box_units") == "pt":
            continue  # a PDF: its boxes are in points, not pixels
        try:
            with Image.open(args.source / entry["file"]) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            print(f"variants: skipped {entry['file']} ({exc})", file=sys.stderr)
            continue
        for name, capture in captures.items():
            new, data = variant(entry, image, name, capture)
            (args.out / new["file"]).write_bytes(data)
            written.append(new)
    (args.out / "annotations.json").write_text(json.dumps(written, indent=1))
    print(f"{len(written)} variants in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
