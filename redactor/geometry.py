"""Box arithmetic and the quarter-turn rotations between a page and its upright view."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from redactor.core import Box


def rotate_box(box: Box, k: int, width: int, height: int) -> Box:
    """Where `box` lands after `np.rot90(image, k)` (k quarter turns counter-clockwise)
    of an image `width` x `height` pixels."""
    x0, y0, x1, y1 = box
    k %= 4
    if k == 0:
        return box
    if k == 1:
        return (y0, width - x1, y1, width - x0)
    if k == 2:
        return (width - x1, height - y1, width - x0, height - y0)
    return (height - y1, x0, height - y0, x1)


def unrotate_box(box: Box, k: int, width: int, height: int) -> Box:
    """Inverse of `rotate_box`: `width`/`height` are those of the ORIGINAL image."""
    k %= 4
    if k == 0:
        return box
    # The rotated image has swapped sides for odd k.
    rw, rh = (height, width) if k % 2 else (width, height)
    return rotate_box(box, 4 - k, rw, rh)


def expand(box: Box, left: float, top: float, right: float, bottom: float) -> Box:
    x0, y0, x1, y1 = box
    return (x0 - left, y0 - top, x1 + right, y1 + bottom)


def pad(box: Box, margin: float) -> Box:
    return expand(box, margin, margin, margin, margin)


def clip(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def covered_fraction(inner: Box, outer: Box) -> float:
    """How much of `inner` lies inside `outer` (0..1)."""
    a = area(inner)
    return intersection(inner, outer) / a if a > 0 else 0.0


def height(box: Box) -> float:
    return box[3] - box[1]


def width(box: Box) -> float:
    return box[2] - box[0]


def centre_line(boxes: Sequence[Box], min_boxes: int = 5) -> tuple[float, float] | None:
    """(slope, y at x = 0) of the straight line through the boxes' centres (least squares), as
    through a line's character boxes; None for fewer than `min_boxes` boxes or boxes all at
    one x: no slant to tell."""
    if len(boxes) < min_boxes:
        return None
    xs = [(b[0] + b[2]) / 2 for b in boxes]
    if max(xs) - min(xs) <= 0:
        return None
    slope, at_zero = np.polyfit(xs, [(b[1] + b[3]) / 2 for b in boxes], 1)
    return float(slope), float(at_zero)
