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
