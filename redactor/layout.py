"""Where the photos of the holder are: detected faces turned into the zones of whole
photos, and what a document's layout (`models/layouts.json`) says must be there: a passport
page without a located portrait, or a document type with a ghost image whose ghost was not
located, needs review rather than a guess.
"""

from __future__ import annotations

import json
from datetime import date
from dataclasses import dataclass
from pathlib import Path

from redactor.core import Box, TextLine
from redactor.faces import Face
from redactor.geometry import area, clip, covered_fraction, expand, width
from redactor.mrz import MrzResult, yymmdd_to_date

LAYOUTS_PATH = Path(__file__).resolve().parent.parent / "models" / "layouts.json"

MAIN_SCORE = 0.5
GHOST_SCORE = 0.35


@dataclass(frozen=True)
class PortraitZone:
    kind: str  # "portrait" or "ghost_portrait"
    box: Box
    reason: str


def load_layouts(path: Path = LAYOUTS_PATH) -> dict:
    return json.loads(path.read_text())


def _portrait_box(face: Face, lines: list[TextLine], size: tuple[int, int], mrz_top: float | None) -> Box:
    """The whole photo around a face: hair, ears and shoulders, but not the text column beside
    it nor the MRZ under it."""
    w = width(face.box)
    h = face.box[3] - face.box[1]
    # Passport photos frame the face at about half their width and height (ICAO 9303).
    box = expand(face.box, 0.75 * w, 0.6 * h, 0.75 * w, 1.0 * h)
    cx = (face.box[0] + face.box[2]) / 2
    right, left = box[2], box[0]
    for line in lines:
        if line.confidence < 0.8 or len(line.text.strip()) < 3:
            continue
        overlaps_rows = line.box[1] < box[3] and line.box[3] > box[1]
        if not overlaps_rows:
            continue
        # Fields printed beside the photo stay readable; the face itself is never cut.
        if line.box[0] > face.box[2] and line.box[0] < right:
            right = max(face.box[2] + 0.1 * w, line.box[0] - 2)
        if line.box[2] < face.box[0] and line.box[2] > left and line.box[2] < cx:
            left = min(face.box[0] - 0.1 * w, line.box[2] + 2)
    bottom = box[3] if mrz_top is None or mrz_top < face.box[3] else min(box[3], mrz_top - 2)
    return clip((left, box[1], right, bottom), *size)


def _ghost_box(face: Face, size: tuple[int, int]) -> Box:
    w = width(face.box)
    h = face.box[3] - face.box[1]
    return clip(expand(face.box, 0.7 * w, 0.7 * h, 0.7 * w, 0.8 * h), *size)


def ghost_expected(mrz: MrzResult | None, layouts: dict) -> bool:
    if mrz is None:
        return False
    layout = layouts.get(f"{mrz.issuing_state}/{mrz.format}", {})
    if not layout.get("ghost_expected", False):
        return False
    since = layout.get("ghost_expected_from_expiry")
    expiry = yymmdd_to_date(mrz.expiry_date, future=True)
    # An unreadable expiry date cannot rule the newer model out.
    return not (since and expiry and expiry < date.fromisoformat(since))


def portrait_zones(
    main_faces: list[Face],
    faint_faces: list[Face],
    lines: list[TextLine],
    size: tuple[int, int],
    mrz_top: float | None = None,
) -> list[PortraitZone]:
    """Detected faces as zones. The largest confident face is the main portrait; smaller or
    fainter faces are ghost portraits (or further photos: all are blacked out)."""
    confident = sorted((f for f in main_faces if f.score >= MAIN_SCORE), key=lambda f: -area(f.box))
    zones: list[PortraitZone] = []
    main_area = area(confident[0].box) if confident else 0.0
    for face in confident:
        if area(face.box) >= 0.45 * main_area:
            zones.append(PortraitZone("portrait", _portrait_box(face, lines, size, mrz_top), "face detected"))
        else:
            zones.append(PortraitZone("ghost_portrait", _ghost_box(face, size), "small face detected"))
    top = min((z.box[1] for z in zones if z.kind == "portrait"), default=None)
    for face in faint_faces:
        if face.score < GHOST_SCORE or any(covered_fraction(face.box, z.box) > 0.5 for z in zones):
            continue
        if main_area and area(face.box) > 1.5 * main_area:
            continue  # a face-like texture bigger than the portrait is not a ghost image
        centre = (face.box[1] + face.box[3]) / 2
        if top is not None and mrz_top is not None and not top <= centre <= mrz_top:
            # Outside the data area (between the portrait's top and the MRZ): not a ghost image.
            # Still blacked out, but it does not count as the document's ghost portrait.
            zones.append(PortraitZone("face", _ghost_box(face, size), "faint face-like region outside the data area"))
            continue
        zones.append(PortraitZone("ghost_portrait", _ghost_box(face, size), "faint face detected"))
    return zones
