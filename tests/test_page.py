"""The self-check page (issue 4) in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright), against a real `python -m api serve` on loopback with the real pipeline.

Screenshots (phone 390x844 and desktop 1280x900) go to /tmp/selfcheck-page-*.png for a person to
look at; the assertions below check what a requester would notice."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from api_support import SAMPLE_DIR, Server, sample

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOTS = Path("/tmp")
PASSPORT = "nl_passport_2014_scan300.jpg"
PURPOSE = "Kopie voor Gemeente Testdorp - AVG-verzoek - 26-11-2026"
RESULT_TIMEOUT_MS = 240_000  # the pipeline on a busy 2-core machine


@pytest.fixture(scope="module")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server.configure(
        tmp_path_factory.mktemp("page"), workers="1", purge_interval_s="0", selfcheck_send_reference="page-test"
    )
    srv.start()
    yield srv
    srv.stop()


class Watch:
    """What a page did that it should not: console errors (CSP violations land there) and
    requests to anywhere but the service itself."""

    def __init__(self, page: Any, origin: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith((origin, "blob:", "data:")) else self.foreign.append(r.url),
        )


def stored_rows(server: Server) -> list[tuple[str, str]]:
    with sqlite3.connect(server.db_path) as conn:
        return conn.execute("SELECT id, reference FROM redactions").fetchall()


def ocr_digit_runs(image: bytes) -> list[str]:
    """Every line RapidOCR can read in the image, reduced to its digits."""
    from rapidocr_onnxruntime import RapidOCR

    result, _ = RapidOCR()(image)
    return [re.sub(r"\D", "", line[1]) for line in result or []]


def bsn_fragments(runs: list[str], numbers: set[str], width: int = 5) -> list[str]:
    """OCR lines showing any 5 consecutive digits of a BSN: more than half the number is a leak."""
    windows = {n[i : i + width] for n in numbers for i in range(len(n) - width + 1)}
    return [run for run in runs if any(w in run for w in windows)]


@dataclass
class Checked:
    """One page on which a passport was checked; the tests below look at it in file order."""

    page: Any
    watch: Watch
    original: bytes
    bsn: set[str]


@pytest.fixture(scope="module")
def checked(browser: Any, server: Server) -> Iterator[Checked]:
    from playwright.sync_api import expect

    original, entry = sample(PASSPORT, "redacted")
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    watch = Watch(page, server.url)
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("Controleer je ID-kopie voordat je hem verstuurt")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.screenshot(path=str(SHOTS / "selfcheck-page-desktop-start.png"), full_page=True)

    page.set_input_files("#file", str(SAMPLE_DIR / PASSPORT))
    expect(page.locator("#chosen")).to_contain_text(PASSPORT)
    page.get_by_label("Tekst die schuin over de kopie komt").fill(PURPOSE)
    page.get_by_role("button", name="Controleer mijn document").click()
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("Bezig met afschermen. Dit kan een halve minuut duren.")
    page.screenshot(path=str(SHOTS / "selfcheck-page-desktop-progress.png"))
    expect(page.locator("#result")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    yield Checked(page, watch, original, {n["text"] for n in entry["personal_numbers"]})
    context.close()


def _bsn_label(checked: Checked) -> str:
    """The legend counts the BSN regions: the 2014 passport carries its BSN in the MRZ only
    (shared/docs/id-documents.md), so the annotation's count decides the label."""
    n = len(checked.bsn)
    return "BSN" if n == 1 else f"BSN ({n}x)"


def test_result_shows_preview_legend_and_summary(checked: Checked) -> None:
    from playwright.sync_api import expect

    page = checked.page
    # The preview: shown, decoded, described for screen readers.
    preview = page.locator("#previews img")
    expect(preview).to_have_count(1)
    assert preview.evaluate("img => img.complete && img.naturalWidth") > 500
    alt = preview.get_attribute("alt") or ""
    bsn = _bsn_label(checked)
    assert bsn in alt and "pasfoto" in alt and "tweede pasfoto" in alt
    # The legend next to it, and the record's summary.
    expect(page.locator("#legend li")).to_have_text([bsn, "pasfoto", "tweede pasfoto"])
    expect(page.locator("#facts")).to_contain_text("Soort document: paspoort (NLD)")
    expect(page.locator("#facts")).to_contain_text("Geldig tot")
    expect(page.locator("#facts")).to_contain_text("Machineleesbare zone (MRZ)")
    expect(page.locator("#facts")).to_contain_text("Watermerk: " + PURPOSE)
    # Screen readers hear that it is done; keyboard focus moved to the result.
    expect(page.locator("#announce")).to_contain_text("Klaar.")
    assert page.evaluate("document.activeElement.id") == "result-title"
    page.screenshot(path=str(SHOTS / "selfcheck-page-desktop-result.png"), full_page=True)


def test_downloaded_copy_has_no_readable_bsn(checked: Checked) -> None:
    readable = [run for run in ocr_digit_runs(checked.original) if any(b in run for b in checked.bsn)]
    assert readable, "the OCR engine cannot read the BSN on the original: this check would prove nothing"
    with checked.page.expect_download() as download_info:
        checked.page.get_by_role("link", name="Download de afgeschermde kopie").click()
    download = download_info.value
    assert download.suggested_filename == "nl_passport_2014_scan300.redacted.png"
    copy = Path(download.path()).read_bytes()
    assert copy.startswith(b"\x89PNG")
    runs = ocr_digit_runs(copy)
    assert runs, "OCR read nothing at all on the copy"
    assert bsn_fragments(runs, checked.bsn) == [], "BSN digits are readable in the redacted copy"


def test_downloaded_record_verifies_and_nothing_was_stored(checked: Checked, server: Server) -> None:
    page = checked.page
    with page.expect_download() as file_info:
        page.get_by_role("link", name="Download de afgeschermde kopie").click()
    copy = Path(file_info.value.path()).read_bytes()
    with page.expect_download() as record_info:
        page.get_by_role("link", name="Download het verificatierecord").click()
    assert record_info.value.suggested_filename == "nl_passport_2014_scan300.record.json"
    record = json.loads(Path(record_info.value.path()).read_text())
    verified = httpx.post(
        server.url + "/v1/records/verify",
        files={"record": (None, json.dumps(record)), "file": ("copy.png", copy)},
        timeout=30,
    )
    assert verified.json()["valid"] is True
    assert stored_rows(server) == []  # looking and downloading stored nothing


def test_preview_opens_full_size_and_closes_again(checked: Checked) -> None:
    from playwright.sync_api import expect

    page = checked.page
    shown = page.locator("#previews img").evaluate("img => img.getBoundingClientRect().width")
    page.get_by_role("button", name="Vergroot pagina 1").click()
    zoom = page.locator("#zoom")
    expect(zoom).to_be_visible()
    big = page.locator("#zoom-img")
    expect(big).to_be_visible()
    # Shown at the scan's own size (1665 px wide), larger than the preview.
    assert big.evaluate("img => img.getBoundingClientRect().width") >= big.evaluate("img => img.naturalWidth") - 1 > shown
    assert page.evaluate("document.activeElement.id") == "zoom-close"
    page.screenshot(path=str(SHOTS / "selfcheck-page-desktop-zoom.png"))
    page.keyboard.press("Escape")
    expect(zoom).to_be_hidden()


def test_switch_to_english_and_phone_layout(checked: Checked) -> None:
    from playwright.sync_api import expect

    page = checked.page
    page.get_by_role("button", name="Switch to English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("h1")).to_have_text("Check your ID copy before you send it")
    expect(page.locator("#legend li")).to_have_text([_bsn_label(checked), "photo", "second (ghost) photo"])
    expect(page.locator("#facts")).to_contain_text("Document type: passport (NLD)")
    assert "second (ghost) photo" in (page.locator("#previews img").get_attribute("alt") or "")
    expect(page.get_by_role("button", name="Schakel naar Nederlands")).to_be_visible()
    # The same result on a phone: one column, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "selfcheck-page-phone-result-en.png"), full_page=True)


def test_send_to_the_organisation(checked: Checked, server: Server) -> None:
    from playwright.sync_api import expect

    page = checked.page
    assert stored_rows(server) == []
    page.locator("#send").click()
    # A short reference that can be read out on the phone, not a wrapping UUID.
    ref = page.locator("#ref")
    expect(ref).to_have_text(re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}$"))
    rows = stored_rows(server)
    assert len(rows) == 1 and rows[0][1] == "page-test"
    assert rows[0][0].replace("-", "").startswith(ref.text_content().replace("-", "").lower())
    assert ref.evaluate("e => e.getClientRects().length") == 1  # on one line, also on a phone
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copied")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == ref.text_content()
    expect(page.locator("#send")).to_be_disabled()
    page.screenshot(path=str(SHOTS / "selfcheck-page-phone-sent.png"), full_page=True)


def test_page_loads_nothing_from_elsewhere_and_breaks_no_rule(checked: Checked) -> None:
    # CSP violations and script errors show up as console errors.
    assert checked.watch.errors == []
    assert checked.watch.foreign == []


def test_api_reference_renders_from_the_services_own_files(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page, server.url)
    page.goto(server.url + "/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert "/v1/redactions" in paths and "/v1/self-check" in paths
    page.screenshot(path=str(SHOTS / "api-reference-desktop.png"))
    assert watch.errors == [] and watch.foreign == []
    context.close()


def test_rejected_upload_shows_clear_guidance(browser: Any, server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    not_a_photo = tmp_path / "paspoort.jpg"
    not_a_photo.write_text("Geachte heer, mevrouw, hierbij mijn verzoek.\n")
    before = stored_rows(server)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    watch = Watch(page, server.url)
    page.goto(server.url + "/")
    page.set_input_files("#file", str(not_a_photo))
    page.get_by_role("button", name="Controleer mijn document").click()
    problem = page.locator("#problem")
    expect(problem).to_be_visible(timeout=60_000)
    expect(page.locator("#problem-title")).to_have_text("We kunnen dit bestand niet lezen")
    expect(page.locator("#problem-tips li").first).to_contain_text("Kies een foto")
    expect(page.locator("#announce")).to_contain_text("We kunnen dit bestand niet lezen")
    assert page.evaluate("document.activeElement.id") == "problem-title"
    # On the phone the explanation and the first tip are in view, not only the heading.
    for part in ("#problem-title", "#problem-text", "#problem-tips li >> nth=0"):
        box = page.locator(part).bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], part
    page.screenshot(path=str(SHOTS / "selfcheck-page-phone-rejected-in-view.png"))  # what the phone shows
    # The technical details open on request, and are folded again for the next result.
    page.get_by_text("Technische details").click()
    expect(page.locator("#problem-reasons")).to_be_visible()
    page.get_by_role("button", name="Controleer mijn document").click()
    expect(page.locator("#problem-title")).to_have_text("We kunnen dit bestand niet lezen")
    expect(page.locator("#problem-reasons")).to_be_hidden()
    expect(page.locator("#result")).to_be_hidden()
    page.screenshot(path=str(SHOTS / "selfcheck-page-phone-rejected.png"), full_page=True)
    # The guidance follows the language switch.
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("#problem-title")).to_have_text("We cannot read this file")
    assert stored_rows(server) == before
    # Only the browser's own console line for the failed request (the 4xx); no script errors.
    assert [e for e in watch.errors if "status of 4" not in e] == []
    context.close()


def test_keyboard_only_use_with_visible_focus(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(server.url + "/")
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order == ["skip", "lang", "file", "camera", "purpose", "submit"]
    # The file input is visually hidden; its label, styled as a button, shows the focus ring.
    page.focus("#file")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    outline = page.locator("label[for=file]").evaluate("l => getComputedStyle(l).outlineStyle")
    assert outline == "solid"
    page.screenshot(path=str(SHOTS / "selfcheck-page-desktop-focus.png"))
    # Submitting without a document says what to do and puts the focus on the file choice.
    page.locator("#submit").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).to_have_text("Kies eerst een foto of scan van je document.")
    assert page.evaluate("document.activeElement.id") == "file"
    context.close()


SMEARED = "nl_idcard_2021_back_bsn_smeared.jpg"  # its BSN is smeared: the check asks a person


def drag_over(page: Any, image: Any, size: list[int], box: list[int], margin: int = 6) -> None:
    """Draw a box with the mouse over `box` (page pixels, plus `margin`) on the shown page."""
    shown = image.bounding_box()
    sx, sy = shown["width"] / size[0], shown["height"] / size[1]
    x0, y0, x1, y1 = box
    page.mouse.move(shown["x"] + (x0 - margin) * sx, shown["y"] + (y0 - margin) * sy)
    page.mouse.down()
    page.mouse.move(shown["x"] + (x1 + margin) * sx, shown["y"] + (y1 + margin) * sy, steps=8)
    page.mouse.up()


def test_requester_blacks_out_what_the_check_missed(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    _, entry = sample(SMEARED, "needs_review")
    x0, y0, x1, y1 = bsn = entry["personal_numbers"][0]["box"]
    before = stored_rows(server)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    watch = Watch(page, server.url)
    page.goto(server.url + "/")
    page.set_input_files("#file", str(SAMPLE_DIR / SMEARED))
    page.get_by_role("button", name="Controleer mijn document").click()

    # The real reason in plain words and what to do, not only general tips.
    expect(page.locator("#problem-title")).to_have_text(
        "We weten niet zeker of alles onleesbaar is", timeout=RESULT_TIMEOUT_MS
    )
    expect(page.locator("#problem-why li").first).to_contain_text("'Persoonsnummer'")
    expect(page.locator("#problem-steps li")).to_have_count(1)  # both reasons share their next step
    expect(page.locator("#problem-steps li")).to_contain_text("trek zelf een vak over het nummer")
    expect(page.locator("#problem-tips li").first).to_be_visible()
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("#problem-why li").first).to_contain_text("'Personal No.'")
    expect(page.get_by_role("button", name="Add box")).to_be_visible()
    page.get_by_role("button", name="Schakel naar Nederlands").click()

    # The drawing step: the requester's own page, with the QR code the pipeline blacks out anyway.
    expect(page.locator("#draw-title")).to_have_text("Zelf afschermen")
    image = page.locator("#draw .box-stage img")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('#draw .box-stage img').naturalWidth > 0")
    expect(page.locator("#draw .draw-planned")).to_have_count(1)

    # Checking again without a box says what to do first.
    page.get_by_role("button", name="Controleer opnieuw").click()
    expect(page.locator("#draw-status")).to_have_text("Trek eerst een vak over wat weg moet, of druk op Vak toevoegen.")
    expect(page.get_by_role("button", name="Vak toevoegen")).to_be_focused()

    # Keyboard: Enter on "Vak toevoegen" puts a focused box on the page; arrows move it,
    # Alt+arrows resize it, Delete removes it.
    page.keyboard.press("Enter")
    added = page.locator("#draw .box-drawn")
    expect(added).to_have_count(1)
    expect(added).to_be_focused()
    expect(page.locator("#draw-status")).to_be_hidden()
    left, width = added.evaluate("e => [e.style.left, e.style.width]")
    page.keyboard.press("ArrowRight")
    assert added.evaluate("e => e.style.left") != left
    page.keyboard.press("Alt+ArrowRight")
    assert added.evaluate("e => e.style.width") != width
    page.keyboard.press("Delete")
    expect(added).to_have_count(0)

    # A box in the wrong place (a corner) does not answer the unread number: the real answer
    # says so, outlines where the number should be in red, and keeps the box for another try.
    drag_over(page, image, entry["size"], [20, 20, 120, 80])
    expect(added).to_have_count(1)
    page.get_by_role("button", name="Controleer opnieuw").click()
    expect(page.locator("#draw .box-leftover")).to_have_count(1, timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#problem-why li").first).to_contain_text("Je vak staat niet op het nummer")
    expect(page.locator("#draw-legend-left")).to_be_visible()
    expect(page.locator("#draw-status")).to_contain_text("rood omlijnde plekken")
    expect(added).to_have_count(1)
    added.focus()
    page.keyboard.press("Delete")
    expect(added).to_have_count(0)

    # Mouse: drag over the smeared BSN, from page pixels to the shown picture's screen pixels.
    drag_over(page, image, entry["size"], bsn)
    expect(added).to_have_count(1)
    page.locator("#draw").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "page-draw-desktop.png"))
    page.screenshot(path=str(SHOTS / "page-draw-desktop-full.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("#draw .box-stage").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "page-draw-phone.png"))
    page.screenshot(path=str(SHOTS / "page-draw-phone-full.png"), full_page=True)
    page.set_viewport_size(DESKTOP)

    # Check again: the server blacks out its own boxes and the drawn one, and verifies again.
    page.get_by_role("button", name="Controleer opnieuw").click()
    expect(page.locator("#result")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#draw")).to_be_hidden()
    expect(page.locator("#legend li")).to_have_text(["QR-code", "door jou aangewezen"])
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download de afgeschermde kopie").click()
    copy = Path(download_info.value.path()).read_bytes()
    pixels = np.asarray(Image.open(io.BytesIO(copy)).convert("L"))
    assert pixels.shape == (entry["size"][1], entry["size"][0])
    assert pixels[y0:y1, x0:x1].mean() < 5, "the box drawn on the page is not black in the copy"
    assert stored_rows(server) == before  # nothing is kept until they send
    # Only the browser's own console line for the 422; no script or CSP errors.
    assert [e for e in watch.errors if "status of 4" not in e] == []
    assert watch.foreign == []
    context.close()
