"""The second face detector (OpenCV Haar cascades) works on its own: it finds the main
portrait on a sample, and sees no face in the text and guilloche of a document. Faint faces
(ghost portraits) are looked for where the document is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from redactor.faces import HaarFaceDetector

from conftest import SAMPLES


@pytest.fixture(scope="module")
def haar():
    return HaarFaceDetector(threads=1)


def _inside(face, box) -> bool:
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


@pytest.mark.parametrize("name", ["nl_passport_2014_scan300.jpg", "nl_passport_pre2014_scan200.png"])
def test_haar_finds_the_main_portrait_and_nothing_else(haar, sample_entries, name):
    entry = sample_entries[name]
    image = np.asarray(Image.open(SAMPLES / name).convert("RGB"))
    faces = haar.detect(image)
    main = [p["box"] for p in entry["portraits"] if p["type"] == "main"][0]
    assert any(_inside(f, main) for f in faces), faces
    assert all(any(_inside(f, p["box"]) for p in entry["portraits"]) for f in faces), faces
    assert {f.detector for f in faces} == {"haar"}


def test_haar_sees_no_face_in_text_and_guilloche(haar, sample_entries):
    name = "nl_passport_2014_scan300.jpg"
    image = np.asarray(Image.open(SAMPLES / name).convert("RGB"))
    # The page right of the portrait: labels, values, guilloche and the MRZ.
    right = max(p["box"][2] for p in sample_entries[name]["portraits"] if p["type"] == "main")
    ghost = [p["box"] for p in sample_entries[name]["portraits"] if p["type"] == "ghost"]
    text_only = image[:, int(right) + 10 :].copy()
    for g in ghost:  # the ghost portrait is a face: paint it out of this text-only view
        text_only[int(g[1]) : int(g[3]), max(0, int(g[0]) - int(right) - 10) : int(g[2]) - int(right) - 10] = 255
    assert haar.detect(text_only) == []


def test_a_title_above_the_photo_does_not_cut_the_photo_short():
    """A field beside the photo, at the face's height, ends the photo zone; a title printed
    above the photo only reaches the zone's top margin and must not end it (the licence of
    sample_docs/generate.py --seed 11, turned 90 degrees, kept a strip of its photo that way)."""
    from redactor.core import TextLine
    from redactor.faces import Face
    from redactor.layout import face_zones

    face = Face((100.0, 200.0, 200.0, 320.0), 0.9)  # the photo around it: about x 20-280
    title = TextLine("KONINKRIJK DER NEDERLANDEN", (230.0, 110.0, 600.0, 135.0), 0.99, "test")
    field = TextLine("1. MEIJER", (300.0, 250.0, 420.0, 275.0), 0.99, "test")
    (zone,) = face_zones([face], [], [title, field], (800, 600), None)
    assert zone.box[2] >= 280, "the title above the photo cut the photo zone short"
    assert zone.box[2] <= field.box[0], "the zone covers the field beside the photo"


def _print_guilloche(image: np.ndarray, x0: int) -> np.ndarray:
    """Dense wavy lines in lilac ink printed over everything right of x0, as the 2021 ID
    card prints its security pattern over the ghost image (ink multiplies, it does not cover)."""
    import cv2

    h, w = image.shape[:2]
    ink = np.full(image.shape, 255, np.uint8)
    xs = np.arange(x0, w)
    for i, y in enumerate(range(0, h + 200, 3)):
        line = np.stack([xs, y + 18 * np.sin(xs / 37.0 + i * 0.7)], axis=1).astype(np.int32)
        cv2.polylines(ink, [line], False, (150, 100, 220), 2, cv2.LINE_AA)
    return (image.astype(np.float32) * ink / 255).astype(np.uint8)


@pytest.mark.parametrize("ghost_printed", [True, False])
def test_the_ghost_under_coloured_print_is_matched_and_only_there(sample_entries, ghost_printed):
    """The ghost of a 2021 ID card lies under a coloured guilloche; phone photos of it went to
    review as "ghost image could not be located". It is found as a copy of the portrait; a card
    whose ghost is gone gets no made-up ghost zone (the pipeline then asks for review)."""
    from redactor.faces import CenterFaceDetector
    from redactor.geometry import area, covered_fraction
    from redactor.layout import find_ghost_copy

    name = "nl_idcard_2021_front_scan300.jpg"
    image = np.asarray(Image.open(SAMPLES / name).convert("RGB")).copy()
    main = next(p["box"] for p in sample_entries[name]["portraits"] if p["type"] == "main")
    ghost = next(p["box"] for p in sample_entries[name]["portraits"] if p["type"] == "ghost")
    x0, y0, x1, y1 = (int(v) for v in ghost)
    if not ghost_printed:  # paint the ghost out with the card's colour just above it
        image[y0:y1, x0:x1] = np.median(image[y0 - 30 : y0 - 5, x0:x1].reshape(-1, 3), axis=0).astype(np.uint8)
    image = _print_guilloche(image, int(main[2]) + 20)
    face = max(CenterFaceDetector(threads=1).detect(image, threshold=0.5), key=lambda f: area(f.box))
    match = find_ghost_copy(image, face.box, [tuple(main)])
    if ghost_printed:
        assert match is not None and match.accepted, match
        assert covered_fraction(match.box, tuple(ghost)) > 0.9, (match.box, ghost)
    else:
        assert match is None or not match.accepted, match


@pytest.mark.parametrize("name", ["nl_idcard_2014_both_sides_a4_150dpi.jpg", "nl_idcard_2021_both_sides_a4_200dpi.jpg"])
def test_the_ghost_of_a_card_on_an_a4_scan_is_found_where_it_is(engines, settings, sample_entries, name):
    """On an A4 scan the faint-face passes look at the part of the page that holds the
    card's text, at a card's scale; what they find is placed back on the page."""
    from redactor.load import load
    from redactor.normalise import upright
    from redactor.pipeline import _faint_faces

    page = upright(load((SAMPLES / name).read_bytes(), settings).pages[0], engines.ocr)
    assert page.k == 0 and page.text_area is not None
    faces = _faint_faces(page.image, page.text_area, engines.faces)
    ghost = [p["box"] for p in sample_entries[name]["portraits"] if p["type"] == "ghost"][0]
    assert any(_inside(f, ghost) for f in faces), faces
