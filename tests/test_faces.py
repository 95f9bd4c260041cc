"""The second face detector (OpenCV Haar cascades) works on its own: it finds the main
portrait on a sample, and sees no face in the text and guilloche of a document."""

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
