"""Find QR codes on a page, whether or not they decode.

A QR code on a Dutch 2021 ID card or passport holds the BSN, so every QR code on an identity
document is blacked out. Decoding is only one of three ways to find one: a blurred or
low-resolution code that no reader decodes today may be decoded by a better reader tomorrow.

1. zxing-cpp, also reporting codes it located but could not decode (`return_errors`);
2. OpenCV's ArUco-based QR detector (`detectMulti`, which locates without decoding);
3. our own finder-pattern search: three nested squares (dark 7x7, light 5x5, dark 3x3
   modules, the 1:1:3:1:1 pattern) of one size at the corners of a right angle.

The decoded content never leaves this module: callers log, and it holds a personal number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np
import zxingcpp

from redactor.core import Box
from redactor.geometry import area, clip, intersection, pad, union

# Work on pages scaled so the longer side is at most this: a 2021 card's QR code keeps
# about 3 px per module on an A4 scan at this size, and detection stays well under 100 ms.
MAX_SIDE = 1600
ARUCO_MAX_SIDE = 1000
# Around the code's own corners: the quiet zone is 4 modules wide; half a module more
# covers the blur of a soft capture.
QUIET_MODULES = 4.5
# A version-1 code has 14 modules between finder centres, version 40 has 170; codes on
# identity documents are small (version 23, 100 modules, holds over 1000 characters).
MIN_SPAN_MODULES, MAX_SPAN_MODULES = 12.0, 100.0
# The finder search: a local threshold window of 9 px (about 3 modules of a small code) on
# the page at three scales, so larger modules get the same window in module units.
PYRAMID = (1.0, 0.6, 0.36)
THRESHOLD_BLOCK, THRESHOLD_OFFSET = 9, 4
# A finder's light square (5x5 modules) is at least this many pixels, and its dark core
# (3x3) this share of it (9/25, give or take perspective and blur).
MIN_HOLE_AREA = 25
CORE_SHARE = (0.15, 0.6)
MIN_CORE_AREA = CORE_SHARE[0] * MIN_HOLE_AREA


@dataclass(frozen=True)
class QrCode:
    box: Box  # image pixels, quiet zone included
    decoded: bool  # a reader decoded it (the content itself is never kept)
    source: str  # "zxing", "opencv" or "finder-patterns"


@dataclass(frozen=True)
class _Finder:
    centre: tuple[float, float]
    module: float  # module size in pixels
    corners: np.ndarray  # 4 x 2, the finder's outer corners
    angle: float  # of its sides, degrees in [0, 90)


def find_qr_codes(image: np.ndarray) -> list[QrCode]:
    """Every QR code on an RGB (or grey) image, boxes in its pixels."""
    return _search(image, thorough=True)


def read_qr_codes(image: np.ndarray) -> list[QrCode]:
    """The QR codes a reader finds on an image (zxing-cpp: decoded, or located and not
    decoded): what anyone pointing a QR app at the page gets, without the locators that
    find codes no reader decodes."""
    return _search(image, thorough=False)


def _search(image: np.ndarray, *, thorough: bool) -> list[QrCode]:
    """zxing-cpp, and when `thorough` the two locators, on the image in grey at most MAX_SIDE
    pixels; boxes in the image's pixels, overlapping finds merged."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = min(1.0, MAX_SIDE / max(h, w))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    small = np.ascontiguousarray(small)
    found = _zxing(small)
    if thorough:
        found += _finder_patterns(small)
        if not found:
            # The ArUco detector is the slowest of the three; it only has to catch what the others missed.
            found = _opencv(small)
    return _merge([QrCode(clip(_scale_box(c.box, 1 / scale), w, h), c.decoded, c.source) for c in found])


def _zxing(grey: np.ndarray) -> list[QrCode]:
    # The QR family: model 1/2, micro and rectangular micro codes.
    micro = (zxingcpp.BarcodeFormat.MicroQRCode, zxingcpp.BarcodeFormat.RMQRCode)
    codes = []
    for result in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode, return_errors=True):
        if not result.valid and result.format in micro:
            continue  # one finder pattern, no decode: too weak a sign (guilloche gives these)
        p = result.position
        corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)
        side = max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[3] - corners[0]))
        # zxing gives the symbol's corners, not its module count: assume the smallest
        # version (the largest modules, the widest quiet zone).
        modules = 11 if result.format in micro else 21
        codes.append(QrCode(_quad_box(corners, QUIET_MODULES * side / modules), result.valid, "zxing"))
    return codes


def _opencv(grey: np.ndarray) -> list[QrCode]:
    h, w = grey.shape
    scale = min(1.0, ARUCO_MAX_SIDE / max(h, w))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    ok, points = cv2.QRCodeDetectorAruco().detectMulti(small)
    if not ok or points is None:
        return []
    codes = []
    for quad in points:
        corners = np.asarray(quad, float) / scale
        side = max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[3] - corners[0]))
        codes.append(QrCode(_quad_box(corners, QUIET_MODULES * side / 21), False, "opencv"))
    return codes


def _finder_candidates(binary: np.ndarray, grey: np.ndarray) -> list[_Finder]:
    """A light square holding exactly one dark square, sized 25:9, inside a dark ring: the
    finder pattern. The ring is checked on the grey image, not as a separate contour: on a
    soft capture the light separator around it blurs away and the ring joins the data."""
    contours, hierarchy = cv2.findContours(_without_specks(binary), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    tree = hierarchy[0]
    nxt, prev, child, parent = tree[:, 0], tree[:, 1], tree[:, 2], tree[:, 3]
    # A hole in a dark shape, holding exactly one dark shape: picked with array operations
    # first, as a text page has thousands of contours.
    safe_child = np.maximum(child, 0)
    picked = (parent >= 0) & (child >= 0) & (nxt[safe_child] < 0) & (prev[safe_child] < 0)
    finders = []
    for hole in np.flatnonzero(picked):
        contour, core = contours[hole], child[hole]
        if len(contour) < 4:
            continue  # a speck
        hole_area = cv2.contourArea(contour)
        if hole_area < MIN_HOLE_AREA:
            continue
        core_area = cv2.contourArea(contours[core])
        if not CORE_SHARE[0] < core_area / hole_area < CORE_SHARE[1]:
            continue
        if not (_squarish(contour) and _squarish(contours[core])):
            continue
        centre = _centroid(contours[core])
        if math.dist(centre, _centroid(contour)) > 0.15 * math.sqrt(hole_area):
            continue
        module = math.sqrt(hole_area) / 5
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if not _rings_alternate(grey, centre, (rw / 5, rh / 5), math.radians(angle)):
            continue
        # The finder's outer corners: the light square grown by its dark ring (one module).
        corners = cv2.boxPoints(((cx, cy), (rw + 2 * module, rh + 2 * module), angle))
        finders.append(_Finder(centre, module, corners, angle % 90))
    return finders


def _without_specks(binary: np.ndarray) -> np.ndarray:
    """`binary` without dark specks too small to be a finder's core. A phone photo's noise
    gave 37 700 contours, traced in 90 ms; without the specks 5 000, in 10 ms (finding the
    specks takes 12)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    keep = np.where(stats[:, cv2.CC_STAT_AREA] >= MIN_CORE_AREA, 255, 0).astype(np.uint8)
    keep[0] = 0  # the background
    return keep[labels]


# Sample points of a finder pattern in module units from its centre, per ring.
_CORE = np.array([(0, 0), (0.7, 0), (-0.7, 0), (0, 0.7), (0, -0.7)])
_AXES = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)], float)
_LIGHT, _DARK = 2.0 * _AXES, 3.0 * _AXES


def _rings_alternate(grey: np.ndarray, centre: tuple[float, float], module: tuple[float, float], angle: float) -> bool:
    """Dark core, light ring two modules out, dark ring three out, in all eight directions."""
    u = np.array([math.cos(angle), math.sin(angle)]) * module[0]
    v = np.array([-math.sin(angle), math.cos(angle)]) * module[1]

    def sample(points: np.ndarray) -> np.ndarray:
        xy = np.asarray(centre) + points[:, :1] * u + points[:, 1:] * v
        x = np.clip(np.rint(xy[:, 0]).astype(int), 0, grey.shape[1] - 1)
        y = np.clip(np.rint(xy[:, 1]).astype(int), 0, grey.shape[0] - 1)
        return grey[y, x].astype(float)

    core, light, dark = sample(_CORE), sample(_LIGHT), sample(_DARK)
    contrast = light.mean() - core.mean()
    return bool(contrast >= 20 and light.min() > core.max() and dark.mean() < light.mean() - 0.1 * contrast)


def _squarish(contour: np.ndarray) -> bool:
    """Convex, fills its rotated bounding rectangle (a circle fills 79%), sides within 1:1.6 (perspective)."""
    (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
    if min(rw, rh) < 2:
        return False
    filled = cv2.contourArea(contour) / (rw * rh)
    hull = cv2.contourArea(cv2.convexHull(contour))
    return max(rw, rh) / min(rw, rh) < 1.6 and filled > 0.75 and hull > 0 and cv2.contourArea(contour) / hull > 0.85


def _centroid(contour: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(contour)
    if m["m00"] == 0:
        x, y, w, h = cv2.boundingRect(contour)
        return (x + w / 2, y + h / 2)
    return (m["m10"] / m["m00"], m["m01"] / m["m00"])


def _finder_patterns(grey: np.ndarray) -> list[QrCode]:
    finders = _dedupe_finders(_finders_at_all_scales(grey))
    codes = []
    for a, b, c in _right_angle_trios(finders):
        module = (a.module + b.module + c.module) / 3
        d = (b.centre[0] + c.centre[0] - a.centre[0], b.centre[1] + c.centre[1] - a.centre[1])
        points = np.vstack([a.corners, b.corners, c.corners, np.array([d])])
        codes.append(QrCode(_quad_box(points, (QUIET_MODULES + 1) * module), False, "finder-patterns"))
    return codes


def _finders_at_all_scales(grey: np.ndarray) -> list[_Finder]:
    """One local threshold window a few modules wide, on a small pyramid: how blurred a code
    is relative to its modules does not change with scale, its module size does."""
    finders = []
    for level in PYRAMID:
        small = grey if level == 1 else cv2.resize(grey, None, fx=level, fy=level, interpolation=cv2.INTER_AREA)
        # Dark = 255; a pixel a little darker than its neighbourhood mean is dark.
        binary = cv2.adaptiveThreshold(
            small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, THRESHOLD_BLOCK, THRESHOLD_OFFSET
        )
        for f in _finder_candidates(binary, small):
            centre = (f.centre[0] / level, f.centre[1] / level)
            finders.append(_Finder(centre, f.module / level, f.corners / level, f.angle))
    return finders


def _dedupe_finders(finders: list[_Finder]) -> list[_Finder]:
    kept: list[_Finder] = []
    for f in finders:
        if not any(math.dist(f.centre, k.centre) < 2 * k.module for k in kept):
            kept.append(f)
    return kept


def _right_angle_trios(finders: list[_Finder]) -> list[tuple[_Finder, _Finder, _Finder]]:
    """(corner, b, c): same-sized finders at the corners of an about isosceles right
    triangle, as a QR code's three finders are. Pairs are screened first: a page of text
    can hold dozens of finder-like candidates."""
    partners: dict[int, list[int]] = {i: [] for i in range(len(finders))}
    for i, j in combinations(range(len(finders)), 2):
        a, b = finders[i], finders[j]
        module = (a.module + b.module) / 2
        if max(a.module, b.module) <= 1.6 * min(a.module, b.module) and (
            MIN_SPAN_MODULES <= math.dist(a.centre, b.centre) / module <= MAX_SPAN_MODULES * 1.5
        ):
            partners[i].append(j)
            partners[j].append(i)
    trios = []
    for i, near in partners.items():
        a = np.array(finders[i].centre)
        for j, k in combinations(near, 2):
            ab, ac = np.array(finders[j].centre) - a, np.array(finders[k].centre) - a
            lb, lc = float(np.linalg.norm(ab)), float(np.linalg.norm(ac))
            module = (finders[i].module + finders[j].module + finders[k].module) / 3
            if max(lb, lc) > 1.5 * min(lb, lc) or not MIN_SPAN_MODULES <= (lb + lc) / 2 / module <= MAX_SPAN_MODULES:
                continue  # perspective stretches one leg, never this much
            if abs(float(np.dot(ab, ac)) / (lb * lc)) > 0.35:
                continue  # not 70-110 degrees
            # The corner finder's sides run along the legs of the triangle.
            leg = math.degrees(math.atan2(ab[1], ab[0])) % 90
            if min(abs(leg - finders[i].angle), 90 - abs(leg - finders[i].angle)) <= 15:
                trios.append((finders[i], finders[j], finders[k]))
    return trios


def _quad_box(points: np.ndarray, margin: float) -> Box:
    xs, ys = points[:, 0], points[:, 1]
    return pad((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), margin)


def _scale_box(box: Box, factor: float) -> Box:
    return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)


def _merge(codes: list[QrCode]) -> list[QrCode]:
    """One entry per code: overlapping finds merge into their union (decoded if any decoded)."""
    merged: list[QrCode] = []
    for code in sorted(codes, key=lambda c: -area(c.box)):
        for i, kept in enumerate(merged):
            if intersection(code.box, kept.box) > 0.3 * min(area(code.box), area(kept.box)):
                merged[i] = QrCode(union(kept.box, code.box), kept.decoded or code.decoded, kept.source)
                break
        else:
            merged.append(code)
    return merged
