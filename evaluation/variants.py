"""Real documents as real captures come: each annotated image of a folder (the specimens) turned
90, 270 and 180 degrees, at half size, and saved as a JPEG at quality 30, with its ground-truth
boxes mapped to the new pixels. The result is a folder `redactor eval` reads.

    .venv/bin/python -m evaluation.variants ../shared/specimens /tmp/specimen-variants
    .venv/bin/redactor eval /tmp/specimen-variants

The variants are written outside the project: the specimens are not ours to copy into it.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

# name -> (clockwise quarter turn in degrees, scale, JPEG quality)
VARIANTS = {
    "rot90": (90, 1.0, 90),
    "rot270": (270, 1.0, 90),
    "rot180": (180, 1.0, 90),
    "half": (0, 0.5, 85),
    "q30": (0, 1.0, 30),
}
BOXED = ("portraits", "personal_numbers", "qr_codes", "keep_fields")


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


def variant(entry: dict, image: Image.Image, name: str) -> tuple[dict, bytes]:
    degrees, scale, quality = VARIANTS[name]
    width, height = image.size
    picture = image.rotate(-degrees, expand=True) if degrees else image
    if scale != 1.0:
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    out = copy.deepcopy(entry)
    out["file"] = f"{Path(entry['file']).stem}_{name}.jpg"
    for key in BOXED:
        for item in out.get(key, []):
            if "box" in item:
                item["box"] = [c * scale for c in turned_box(item["box"], degrees, width, height)]
    if degrees:
        out["rotation"] = (int(entry.get("rotation", 0)) + degrees) % 360
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return out, buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a folder with images and annotations.json")
    parser.add_argument("out", type=Path, help="where the variants and their annotations.json go")
    args = parser.parse_args(argv)
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
        for name in VARIANTS:
            new, data = variant(entry, image, name)
            (args.out / new["file"]).write_bytes(data)
            written.append(new)
    (args.out / "annotations.json").write_text(json.dumps(written, indent=1))
    print(f"{len(written)} variants in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
