"""The OCR engine reads a page the same whichever number of threads it is given: with two or
more, the lines of a page are recognised side by side, each on one core. A fast model reads
every line; whatever may be a number is read by the careful one."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from redactor import mrz
from redactor.ocr import RapidOcrEngine

from conftest import SAMPLES


def test_lines_read_side_by_side_read_as_one_at_a_time(engines):
    page = np.asarray(Image.open(SAMPLES / "nl_passport_2014_scan300.jpg").convert("RGB"))
    shared_out = engines.ocr.read(page, fix_upside_down=False)
    alone = RapidOcrEngine(threads=1).read(page, fix_upside_down=False)
    assert len(alone) > 20  # a whole data page, MRZ included
    assert [l.text for l in shared_out] == [l.text for l in alone]
    assert np.allclose([l.box for l in shared_out], [l.box for l in alone], atol=1)
    assert [len(l.chars) for l in shared_out] == [len(l.chars) for l in alone]  # word boxes too
    assert any(l.text.startswith("P<NLD") for l in shared_out)


@pytest.mark.parametrize("name", ["nl_passport_pre2014_scan200.png", "nl_idcard_2021_back_lowres_120dpi.jpg", "nl_driving_licence_2006_phone_photo.jpg"])
def test_every_number_is_read_by_the_careful_model(engines, name):
    """The fast model reads a page first; what may be a number (a BSN, a document number)
    is read again by PP-OCRv4, so numbers read as PP-OCRv4 alone reads them. Dates and
    heights, which hold no secret, stay as the fast model read them."""
    page = np.asarray(Image.open(SAMPLES / name).convert("RGB"))
    found = engines.ocr.find_lines(page)
    fast = engines.ocr.read_lines(found, fix_upside_down=False)
    careful = engines.ocr.careful().read_lines(found, fix_upside_down=False)
    dates = re.compile(r"JAN|FEB|MAA|MAR|APR|MEI|MAY|JUN|JUL|AUG|SEP|OKT|OCT|NOV|DEC|\d\d\.\d\d\.\d{4}$")
    numbers = [l.text for l in careful if sum(c.isdigit() for c in l.text) >= 5 and "<" not in l.text and not dates.search(l.text)]
    assert any(re.search(r"(?<!\d)(\d{9}|\d{4}\.\d{2}\.\d{3})(?!\d)", t.replace(" ", "")) for t in numbers), numbers  # the BSN
    assert numbers and set(numbers) <= {l.text for l in fast}


def test_the_fast_model_reads_an_mrz_filler_as_filler(engines):
    """PP-OCRv6 tiny reads runs of '<' on a card's name line partly as a Greek capital lambda;
    read as such, the MRZ would not parse and the card would need review."""
    page = np.asarray(Image.open(SAMPLES / "nl_idcard_2014_back_scan300.jpg").convert("RGB"))
    lines = engines.ocr.read(page, fix_upside_down=False)
    assert not any("\u039b" in l.text for l in lines)
    reading = mrz.read(lines).result
    assert reading is not None and reading.valid
