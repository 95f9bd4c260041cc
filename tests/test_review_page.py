"""The review station's page (/review, issue 11) in real headless Chromium against a real
`redactor serve` with the real pipeline: staff sign in with a review key, open the queued
document, draw a box over the BSN the pipeline missed, publish, and the stored copy is black
there. Screenshots go to /tmp/review-page-*.png for a person to look at."""

from __future__ import annotations

import io
from typing import Any, Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from api_support import Server, sample
from test_page import DESKTOP, PHONE, SHOTS, Watch

pytestmark = pytest.mark.browser

SMEARED = "nl_idcard_2021_back_bsn_smeared.jpg"
RESULT_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server.configure(tmp_path_factory.mktemp("review-page"), workers="1", purge_interval_s="0", review_queue="on")
    srv.start()
    yield srv
    srv.stop()


def test_staff_draw_a_box_over_the_missed_bsn_and_publish(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    review_key = server.create_key("review", name="privacy-office")
    read_key = server.create_key("read", name="viewer")
    data, entry = sample(SMEARED, "needs_review")
    with httpx.Client(base_url=server.url, timeout=600) as client:
        queued = client.post(
            "/v1/redactions",
            files={"file": ("id.jpg", data, "image/jpeg")},
            data={"on_review": "queue", "reference": "page-11"},
            headers={"Authorization": f"Bearer {server.create_key('submit')}"},
        )
    assert queued.status_code == 202, queued.text

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page, server.url)
    page.goto(server.url + "/review")
    expect(page.locator("h1:visible")).to_have_text("Aanmelden")

    # A key without the review scope is refused in plain words.
    page.get_by_label("API-sleutel met het recht 'review'").fill(read_key)
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.locator("#signin-error")).to_have_text("Deze sleutel heeft het recht 'review' niet.")

    page.get_by_label("API-sleutel met het recht 'review'").fill(review_key)
    page.keyboard.press("Enter")
    expect(page.locator("#queue-rows tr")).to_have_count(1)
    expect(page.locator("#queue-rows")).to_contain_text("nummer")  # the plain-words reason
    page.screenshot(path=str(SHOTS / "review-page-desktop-queue.png"), full_page=True)
    page.locator("#queue-rows button").click()

    image = page.locator(".box-stage img").first
    expect(image).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_function("document.querySelector('.box-stage img').naturalWidth > 0")
    expect(page.locator(".box-proposed")).to_have_count(1)  # the QR code the pipeline did find

    # Keyboard: "Add box" puts a focused box on the page; an arrow key moves it; Delete removes it.
    page.locator("#add").focus()
    page.keyboard.press("Enter")
    added = page.locator(".box-drawn")
    expect(added).to_have_count(1)
    expect(added).to_be_focused()
    left = added.evaluate("e => e.style.left")
    page.keyboard.press("ArrowRight")
    assert added.evaluate("e => e.style.left") != left
    page.keyboard.press("Delete")
    expect(page.locator(".box-drawn")).to_have_count(0)

    # Mouse: drag over the smeared BSN, in screen pixels of the shown page.
    x0, y0, x1, y1 = entry["personal_numbers"][0]["box"]
    shown = image.bounding_box()
    scale = shown["width"] / entry["size"][0]
    page.mouse.move(shown["x"] + (x0 - 4) * scale, shown["y"] + (y0 - 4) * scale)
    page.mouse.down()
    page.mouse.move(shown["x"] + (x1 + 4) * scale, shown["y"] + (y1 + 4) * scale, steps=8)
    page.mouse.up()
    expect(page.locator(".box-drawn")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "review-page-desktop-item.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / "review-page-phone-item.png"), full_page=True)
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Publiceren").click()
    expect(page.locator("#queue-status")).to_contain_text("Gepubliceerd", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#queue-empty")).to_be_visible()

    # The stored copy is black where the box was drawn; its record says staff finished it.
    with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {read_key}"}) as client:
        stored = client.get("/v1/redactions", params={"reference": "page-11"}).json()["items"]
        assert len(stored) == 1
        record = client.get(f"/v1/redactions/{stored[0]['id']}").json()["record"]
        copy = client.get(f"/v1/redactions/{stored[0]['id']}/file").content
    assert record["review"]["by"] == "staff" and record["review"]["regions_added"] == 1
    pixels = np.asarray(Image.open(io.BytesIO(copy)).convert("L"))
    assert pixels[y0:y1, x0:x1].mean() < 5, "the box drawn on the page is not black in the copy"
    # The one console error is the browser noting the refused key's 403.
    assert [e for e in watch.errors if "status of 403" not in e] == [] and watch.foreign == []
    context.close()
