"""Where the photos of the holder are, in three ways that back each other up:

1. detected faces, grown to the whole photo around them (hair, shoulders), but not over the
   text fields beside them nor the MRZ below;
2. the ghost image found as what it is, a smaller, fainter copy of the main portrait:
   normalised cross-correlation of the main face at the scales ghosts are printed at, which
   does not care how faint the copy is;
3. the document's layout (`models/documents.json`): zones in MRZ units that by layout hold
   only a photo, blacked out whatever the detectors say.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from redactor.core import Box, Region, RegionKind, TextLine
from redactor.faces import Face
from redactor.geometry import area, clip, covered_fraction, expand, height, width
from redactor.mrz import CELL_MARGIN, VERTICAL_MARGIN, MrzResult

# A detected face this sure is a portrait; fainter ones (the contrast-enhanced pass) are
# ghost candidates.
MAIN_SCORE = 0.5
GHOST_SCORE = 0.35
# A face at least this share of the largest face's area is another main portrait (two
# sides of a card on one page), a smaller one a ghost image.
MAIN_AREA_SHARE = 0.45
# Ghost images are printed at 15-80 % of the main portrait's size (specimens: BDR 15 %,
# NLD, CZE, FIN about 40 %, FRA about 80 %).
GHOST_SCALES = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)
# The template is the head and top of the shoulders around the detected face (left, top,
# right, bottom, in face widths and heights): hair and shoulder outline are what a faint
# ghost keeps best.
TEMPLATE_GROW = (0.2, 0.2, 0.2, 0.3)
# A match is the ghost when it stands out: its correlation at least this much above the best
# match elsewhere near the portrait, and not below a floor. Measured on sample_docs, the
# specimens and four generated sets (149 pages with a face): every ghost found stood out by
# 0.099 or more (the French specimen; phone photos of the 2021 ID card, whose ghost lies under
# heavy guilloche, by 0.13 or more), a look-alike place by 0.055 at most. A look-alike scores
# up to 0.80, a ghost as little as 0.68: the height of the score alone does not tell them apart.
GHOST_MATCH_MARGIN = 0.08
GHOST_MATCH_FLOOR = 0.6
# Matching runs where the portrait's document can be (SEARCH_WINDOW, in template widths and
# heights left, up, right, down), with the template scaled to MATCH_WIDTH pixels: a card alone
# on an A4 page then keeps its ghost large enough to be matched.
MATCH_WIDTH = 70
SEARCH_WINDOW = (4.0, 3.5, 7.0, 3.5)


@dataclass(frozen=True)
class MrzFrame:
    """The MRZ as a ruler: its top-left corner, its width (all cells, filler included) and its
    slant. Layout zones are given in MRZ widths along and across the MRZ's own lines, so on a
    tilted capture they tilt with it: a ghost half an MRZ-width above the MRZ, 4 degrees off,
    lands 35 px away from where a level ruler would put it on a 1000 px page."""

    x0: float
    y0: float
    width: float
    angle: float = 0.0  # radians; positive when the lines run down to the right

    @classmethod
    def of(cls, mrz: MrzResult) -> MrzFrame:
        x0, y0, x1, _ = mrz.cell_box(0, 0, len(mrz.lines[0]))
        if not mrz.fits:
            return cls(x0, y0, x1 - x0)
        # Slant and width from the line whose fit is surest (MRZ lines are all one length);
        # the corner from line 1's first cell with cell_box's margins, measured along the slant.
        fit, last = mrz.fits[mrz.best_read_line], len(mrz.lines[mrz.best_read_line]) - 1
        first_cell, last_cell = np.array(fit.centre(0)), np.array(fit.centre(last))
        dx, dy = last_cell - first_cell
        angle = float(np.arctan2(dy, dx))
        along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        before, after = fit.pitch(0) * (0.5 + CELL_MARGIN), fit.pitch(last) * (0.5 + CELL_MARGIN)
        width = float(np.dot(last_cell - first_cell, along)) + before + after
        top = mrz.fits[0]
        corner = np.array(top.centre(0)) - before * along - top.char_height * (0.5 + VERTICAL_MARGIN) * across
        if width <= 0:  # a fit running backwards: no slant to trust, the level frame
            return cls(x0, y0, x1 - x0)
        return cls(float(corner[0]), float(corner[1]), width, angle)

    @property
    def slope(self) -> float:
        """Pixels down per pixel right along the MRZ's lines."""
        return float(np.tan(self.angle))

    def to_pixels(self, zone: tuple[float, float, float, float]) -> Box:
        """A zone (MRZ widths right of and below the MRZ's top-left corner, along its slant)
        as an upright box of the zone's size around where its centre lands. Not the box around
        the turned zone: at 4 degrees that grows the portrait zone over the start of the
        fields beside it, for a sliver of photo corner."""
        a, b, c, d = zone
        u, v = (a + c) / 2, (b + d) / 2
        cx = self.x0 + self.width * (u * np.cos(self.angle) - v * np.sin(self.angle))
        cy = self.y0 + self.width * (u * np.sin(self.angle) + v * np.cos(self.angle))
        half_w, half_h = self.width * (c - a) / 2, self.width * (d - b) / 2
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _photo_box(
    face: Box,
    lines: list[TextLine],
    size: tuple[int, int],
    mrz_box: Box | None,
    grow: tuple[float, float, float, float],
    *,
    clip_left: bool = True,
    mrz_slope: float = 0.0,
) -> Box:
    """The whole photo around a face, clipped at text printed beside it and at the MRZ (whose
    lines run `mrz_slope` pixels down per pixel right).
    The main portrait sits at the document's left edge: text OCR finds left of it is not a
    field (the other side of a card scanned beside it, a vertical number), so it is not
    clipped there; a ghost image often has fields on its left."""
    w, h = width(face), height(face)
    box = expand(face, grow[0] * w, grow[1] * h, grow[2] * w, grow[3] * h)
    cx = (face[0] + face[2]) / 2
    left, right = box[0], box[2]
    for line in lines:
        if line.confidence < 0.8 or len(line.text.strip()) < 3:
            continue
        # Only a line at the face's height is a field beside the photo: a title printed above
        # the photo reaches into the grown box's top margin and must not cut the photo short.
        if not (line.box[1] < face[3] and line.box[3] > face[1]):
            continue
        # Fields printed beside the photo stay readable; the face itself is never cut.
        if face[2] < line.box[0] < right:
            right = max(face[2] + 0.1 * w, line.box[0] - 2)
        if clip_left and left < line.box[2] < face[0] and line.box[2] < cx:
            left = min(face[0] - 0.1 * w, line.box[2] + 2)
    # The MRZ ends a photo above it; an MRZ beside it (a card's back scanned next to its
    # front) does not.
    below = mrz_box is not None and mrz_box[1] >= face[3] and mrz_box[0] < face[2] and mrz_box[2] > face[0]
    bottom = min(box[3], _mrz_top_under(mrz_box, mrz_slope, left, right) - 2) if below else box[3]
    return clip((left, box[1], right, bottom), *size)


def _mrz_top_under(mrz_box: Box, slope: float, left: float, right: float) -> float:
    """The highest point of the MRZ's top edge between x = left and right. On a level page
    that is the top of its box; on a tilted one the edge runs askew from the box's top
    corner, and under a photo at the low end it is far lower (8 degrees: 120 px on a
    passport 1500 px wide, where the photo's bottom corner showed)."""
    high_x = mrz_box[0] if slope > 0 else mrz_box[2]
    return min(mrz_box[1] + slope * (x - high_x) for x in (max(left, mrz_box[0]), min(right, mrz_box[2])))


# Passport photos frame the face at about half their width and height (ICAO 9303): grow the
# face box by these factors (left, top, right, bottom) to reach the photo's edges. Measured on
# 150 portraits (sample_docs, specimens, generated sets) the photo reached up to 0.89 face
# widths left, 0.81 right, 0.65 heights above and 1.15 below; a phone photo's perspective
# widens one corner more. The right is held at 0.8 (the fields beside the photo start there
# and stay readable); left and below have room and get a margin. Ghosts get more below:
# their box from the detector often stops at the chin, and the shoulders showed.
MAIN_GROW = (1.0, 0.7, 0.8, 1.35)
GHOST_GROW = (1.0, 0.9, 1.0, 1.6)


def face_zones(
    main_faces: list[Face],
    faint_faces: list[Face],
    lines: list[TextLine],
    size: tuple[int, int],
    mrz_box: Box | None,
    mrz_slope: float = 0.0,
) -> list[Region]:
    """Detected faces as photo zones. The largest confident face is the main portrait;
    smaller or fainter faces are ghost portraits (every one is blacked out)."""
    confident = sorted((f for f in main_faces if f.score >= MAIN_SCORE), key=lambda f: -area(f.box))
    zones: list[Region] = []
    main_area = area(confident[0].box) if confident else 0.0
    for face in confident:
        if area(face.box) >= MAIN_AREA_SHARE * main_area:
            box = _photo_box(face.box, lines, size, mrz_box, MAIN_GROW, clip_left=False, mrz_slope=mrz_slope)
            zones.append(Region(RegionKind.PORTRAIT, 0, box, "face detected"))
        else:
            box = _photo_box(face.box, lines, size, mrz_box, GHOST_GROW, mrz_slope=mrz_slope)
            zones.append(Region(RegionKind.GHOST_PORTRAIT, 0, box, "small face detected"))
    for face in faint_faces:
        if any(covered_fraction(face.box, z.box) > 0.5 for z in zones):
            continue
        if main_area and area(face.box) > 1.5 * main_area:
            continue  # a face-like texture bigger than the portrait is not a ghost image
        box = _photo_box(face.box, lines, size, mrz_box, GHOST_GROW, mrz_slope=mrz_slope)
        zones.append(Region(RegionKind.GHOST_PORTRAIT, 0, box, "faint face detected"))
    return zones


def _grey(image: np.ndarray) -> np.ndarray:
    """The page as a ghost sees it: ghosts are engraved or printed in grey, the security print
    over them in colour. The brightest channel keeps grey as it is and turns coloured lines
    light; the blur compares shapes, not the dots of the print."""
    return cv2.GaussianBlur(image.max(axis=2), (0, 0), 1.5).astype(np.float32)


@dataclass(frozen=True)
class GhostMatch:
    box: Box  # where the face is in the matched copy, in page pixels
    score: float  # normalised correlation with the main portrait's head
    runner_up: float  # the best correlation elsewhere (-1 when there is no elsewhere)

    @property
    def accepted(self) -> bool:
        return self.score >= GHOST_MATCH_FLOOR and self.score - self.runner_up >= GHOST_MATCH_MARGIN


def find_ghost_copy(image: np.ndarray, main_face: Box, exclude: list[Box]) -> GhostMatch | None:
    """The best smaller copy of the main portrait's head near it (on its document), with the
    best correlation found anywhere else in that area."""
    h, w = image.shape[:2]
    fw, fh = width(main_face), height(main_face)
    head = clip(expand(main_face, *(g * d for g, d in zip(TEMPLATE_GROW, (fw, fh, fw, fh)))), w, h)
    hw, hh = width(head), height(head)
    left, up, right, down = SEARCH_WINDOW
    wx0, wy0, wx1, wy1 = (int(v) for v in clip(expand(head, left * hw, up * hh, right * hw, down * hh), w, h))
    scale = min(1.0, MATCH_WIDTH / max(hw, 1.0))
    crop = image[wy0:wy1, wx0:wx1]
    if scale != 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    page = _grey(crop)

    def to_match(box: Box) -> tuple[int, int, int, int]:
        return tuple(int((v - o) * scale) for v, o in zip(box, (wx0, wy0, wx0, wy0)))  # type: ignore[return-value]

    tx0, ty0, tx1, ty1 = to_match(head)
    template = page[max(0, ty0):ty1, max(0, tx0):tx1]
    if template.shape[0] < 12 or template.shape[1] < 12:
        return None
    maps: list[tuple[np.ndarray, int, int]] = []
    for s in GHOST_SCALES:
        t = cv2.resize(template, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        th, tw = t.shape[:2]
        if th < 14 or tw < 14 or th >= page.shape[0] or tw >= page.shape[1] or float(t.std()) < 2.0:
            continue
        scores = cv2.matchTemplate(page, t, cv2.TM_CCOEFF_NORMED)
        for ex in exclude:
            _mask(scores, to_match(ex), th, tw)
        maps.append((scores, th, tw))
    if not maps:
        return None
    value, (x, y), (th, tw) = -1.0, (0, 0), (0, 0)
    for scores, sh, sw in maps:
        _, top, _, at = cv2.minMaxLoc(scores)
        if top > value:
            value, (x, y), (th, tw) = top, at, (sh, sw)
    if value <= -1:
        return None
    # The runner-up: the best place whose match does not overlap this one.
    runner_up = -1.0
    for scores, sh, sw in maps:
        elsewhere = scores.copy()
        _mask(elsewhere, (x, y, x + tw, y + th), sh, sw)
        runner_up = max(runner_up, float(elsewhere.max()))
    # The copy's face sits in the matched head as the main face sits in the template.
    k = tw / template.shape[1]  # the copy's size against the original's
    ox, oy = wx0 + x / scale, wy0 + y / scale
    face = (
        ox + (main_face[0] - head[0]) * k,
        oy + (main_face[1] - head[1]) * k,
        ox + (main_face[2] - head[0]) * k,
        oy + (main_face[3] - head[1]) * k,
    )
    return GhostMatch(face, float(value), runner_up)


def _mask(scores: np.ndarray, box: tuple[int, int, int, int], th: int, tw: int) -> None:
    """No match may overlap `box` (match-image pixels): set those positions to -1."""
    x0, y0, x1, y1 = box
    scores[max(0, y0 - th):max(0, y1), max(0, x0 - tw):max(0, x1)] = -1


def ghost_copy_zone(image: np.ndarray, portraits: list[Region], main_faces: list[Face], lines: list[TextLine], mrz_box: Box | None) -> Region | None:
    """Where the ghost copy of the main portrait is, as a photo zone; None when none matches."""
    if not portraits or not main_faces:
        return None
    face = max(main_faces, key=lambda f: area(f.box))
    match = find_ghost_copy(image, face.box, [p.box for p in portraits])
    if match is None or not match.accepted:
        return None
    h, w = image.shape[:2]
    box = _photo_box(match.box, lines, (w, h), mrz_box, GHOST_GROW)
    return Region(RegionKind.GHOST_PORTRAIT, 0, box, f"smaller copy of the portrait (match {match.score:.2f}, next best {match.runner_up:.2f})")


def zone_region(
    frame: MrzFrame, zone: tuple[float, float, float, float], kind: RegionKind, size: tuple[int, int], title: str
) -> Region | None:
    """A layout zone on the page; None when it falls wholly off the page (a capture cut short
    there: nothing of it to black out)."""
    x0, y0, x1, y1 = clip(frame.to_pixels(zone), *size)
    if x1 <= x0 or y1 <= y0:
        return None
    return Region(kind, 0, (x0, y0, x1, y1), f"{kind.value.replace('_', ' ')} zone of the {title} layout")
