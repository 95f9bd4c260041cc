"""The OCR engine reads a page the same whichever number of threads it is given: with two or
more, the lines of a page are recognised side by side, each on one core."""

from __future__ import annotations

import numpy as np
from PIL import Image

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
