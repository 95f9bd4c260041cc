"""The self-check endpoints (issue 4) against a real `python -m api serve` on loopback, with the
real pipeline and real sample documents: a self-check stores nothing (no row, no stored file, no
named temporary file), its answer is what the page shows, and "send" stores only the signed copy."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest
from fastapi import HTTPException
from PIL import Image

from api.selfcheck import check_sendable, legend, pdf_previews
from api_support import Server, sample
from redactor.record import KeyStore, RecordRedaction, build_record, sha256_hex, verify_record

PASSPORT = "nl_passport_2014_scan300.jpg"
NEEDS_REVIEW = "letter_with_photo.jpg"
SMEARED = "nl_idcard_2021_back_bsn_smeared.jpg"  # its BSN is smeared: only a person can box it
REQUESTER_FILE_NAME = "Paspoort-Jansen-zelfcontrole.png"
SEND_REFERENCE = "selfcheck-test"
MAX_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("selfcheck")
    srv = Server.configure(
        base,
        workers="1",
        purge_interval_s="0",
        max_bytes=str(MAX_BYTES),
        selfcheck_send_reference=SEND_REFERENCE,
        rate_limit_selfcheck_per_minute="30",
        forwarded_allow_ips="127.0.0.1",  # the test client plays a reverse proxy on loopback
        request_timeout_s="600",  # these tests check answers, not speed
    )
    # Its own temporary directory, so the test sees any named temporary file an upload leaves.
    (base / "tmp").mkdir()
    srv.env["TMPDIR"] = str(base / "tmp")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=600) as c:
        yield c


def storage(server: Server) -> dict[str, Any]:
    """Everything the service could have kept: every table's rows, stored files, temporary files."""
    with sqlite3.connect(server.db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    tmp = Path(server.env["TMPDIR"])
    return {
        "rows": rows,
        "files": {name: sha256_hex((server.storage_dir / name).read_bytes()) for name in server.stored_files()},
        "tmp": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")),
    }


def self_check(client: httpx.Client, data: bytes, *, name: str = REQUESTER_FILE_NAME, **fields: str) -> httpx.Response:
    return client.post("/v1/self-check", files={"file": (name, data, "application/octet-stream")}, data=fields)


@dataclass
class Checked:
    response: httpx.Response
    before: dict[str, Any]
    after: dict[str, Any]
    numbers: list[str]


@pytest.fixture(scope="module")
def checked(server: Server, client: httpx.Client) -> Checked:
    """One self-check of a passport, as a PNG larger than Starlette's 1 MB spool threshold."""
    jpeg, entry = sample(PASSPORT, "redacted")
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buf, "PNG", compress_level=1)
    big = buf.getvalue()
    assert len(big) > 2 * 1024 * 1024  # would be spooled to a temporary file by a default form parser
    before = storage(server)
    response = self_check(client, big, purpose="Kopie voor Gemeente Testdorp - AVG-verzoek - 26-11-2026")
    return Checked(response, before, storage(server), [n["text"] for n in entry["personal_numbers"]])


def body(checked: Checked) -> dict[str, Any]:
    assert checked.response.status_code == 200, checked.response.text
    return checked.response.json()


def test_self_check_stores_nothing(checked: Checked) -> None:
    assert body(checked)["status"] == "redacted"
    assert checked.after == checked.before
    assert checked.before["rows"]["redactions"] == [] and checked.before["files"] == {}


def test_self_check_logs_no_file_name_and_no_bsn(server: Server, checked: Checked) -> None:
    assert body(checked)["status"] == "redacted"
    log = server.log_path.read_text(errors="replace")
    assert "/v1/self-check" in log  # the request was logged, just without personal data
    assert REQUESTER_FILE_NAME not in log and "Jansen" not in log
    for number in checked.numbers:
        assert number not in log


def test_result_says_in_plain_words_what_was_blacked_out(checked: Checked) -> None:
    summary = body(checked)["summary"]
    # The annotation says how many times the BSN is on the sample (one place per number found).
    bsn = "BSN" if len(checked.numbers) == 1 else f"BSN ({len(checked.numbers)}x)"
    assert [e["label"]["nl"] for e in summary["legend"]] == [bsn, "pasfoto", "tweede pasfoto"]
    assert [e["label"]["en"] for e in summary["legend"]] == [bsn, "photo", "second (ghost) photo"]
    facts = {f["key"]: f for f in summary["facts"]}
    assert facts["type"]["text"]["nl"] == "Soort document: paspoort (NLD)"
    assert facts["expiry"]["ok"] is True and facts["expiry"]["text"]["nl"].startswith("Geldig tot ")
    assert "mrz" in facts
    assert facts["watermark"]["text"]["nl"] == "Watermerk: Kopie voor Gemeente Testdorp - AVG-verzoek - 26-11-2026"
    assert f"{bsn}, pasfoto en tweede pasfoto" in summary["description"]["nl"]


def test_result_file_is_the_signed_copy(client: httpx.Client, checked: Checked) -> None:
    result = body(checked)
    data = base64.b64decode(result["file"]["base64"])
    assert result["file"]["media_type"] == "image/png" and data.startswith(b"\x89PNG")
    assert result["previews"] == []  # a PNG is its own preview
    verified = client.post(
        "/v1/records/verify", files={"record": (None, json.dumps(result["record"])), "file": ("c.png", data)}
    )
    assert verified.json()["valid"] is True, verified.text
    assert checked.response.headers["cache-control"] == "no-store"


def test_send_stores_exactly_the_checked_copy_once(server: Server, client: httpx.Client, checked: Checked) -> None:
    result = body(checked)
    data = base64.b64decode(result["file"]["base64"])
    form = {"record": (None, json.dumps(result["record"])), "file": ("redacted.png", data, "image/png")}
    sent = client.post("/v1/self-check/send", files=form)
    assert sent.status_code == 200, sent.text
    record_id = result["record"]["record_id"]
    short = record_id.replace("-", "")[:8].upper()
    assert sent.json() == {"reference": record_id, "short_reference": f"{short[:4]}-{short[4:]}", "stored": True}
    after = storage(server)
    assert list(after["files"].values()) == [sha256_hex(data)]
    with sqlite3.connect(server.db_path) as conn:
        rows = conn.execute("SELECT id, reference, sha256 FROM redactions").fetchall()
    assert rows == [(result["record"]["record_id"], SEND_REFERENCE, sha256_hex(data))]
    # A second click sends nothing new.
    again = client.post("/v1/self-check/send", files=form)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert storage(server) == after


def test_send_refuses_anything_but_the_signed_copy(server: Server, client: httpx.Client, checked: Checked) -> None:
    result = body(checked)
    data = base64.b64decode(result["file"]["base64"])
    before = storage(server)
    original, _ = sample(PASSPORT, "redacted")
    record = dict(result["record"], record_id="00000000-0000-4000-8000-000000000000")
    attempts = [
        (result["record"], original),  # the unredacted document under a valid record
        (result["record"], data[:-1] + bytes([data[-1] ^ 1])),  # a changed copy
        (record, data),  # a changed record
    ]
    for rec, file in attempts:
        response = client.post(
            "/v1/self-check/send", files={"record": (None, json.dumps(rec)), "file": ("x.png", file, "image/png")}
        )
        assert response.status_code == 400, response.text
        assert response.json()["detail"]["code"] == "invalid_record"
    assert storage(server) == before


def test_send_refuses_an_old_result(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    record = keys.sign(build_record(status="redacted", reasons=[], output=data))
    assert check_sendable(record, data, keys.jwks(), timedelta(minutes=30)).output == data
    with pytest.raises(HTTPException) as exc:
        check_sendable(record, data, keys.jwks(), timedelta(seconds=-1))
    assert exc.value.status_code == 410 and exc.value.detail["code"] == "expired"


def test_needs_review_shows_why_and_stores_nothing(server: Server, client: httpx.Client) -> None:
    letter, _ = sample(NEEDS_REVIEW, "needs_review")
    before = storage(server)
    response = self_check(client, letter)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "needs_review"
    assert detail["record"]["status"] == "needs_review" and detail["record"]["signature"]
    assert detail["record"]["reasons"] and detail["summary"]["reasons"] == detail["record"]["reasons"]
    assert detail["summary"]["description"]["nl"].startswith("Niet gelukt")
    # Each reason in plain words, with what the requester can do next.
    assert detail["explanations"]
    for explained in detail["explanations"]:
        assert explained["code"] and explained["text"]["nl"] and explained["text"]["en"]
        assert explained["next_step"]["nl"] and explained["next_step"]["en"]
    # No redacted copy; the pages to draw on are the requester's own upload, shown back to them.
    assert "file" not in detail and "base64" not in response.text
    assert [set(p) for p in detail["pages"]] == [{"width", "height", "image"}]
    assert storage(server) == before


def test_requester_boxes_what_the_check_missed(server: Server, client: httpx.Client) -> None:
    data, entry = sample(SMEARED, "needs_review")
    x0, y0, x1, y1 = box = entry["personal_numbers"][0]["box"]
    before = storage(server)

    first = self_check(client, data)
    assert first.status_code == 422, first.text
    detail = first.json()["detail"]
    assert detail["code"] == "needs_review" and detail["explanations"]
    page = detail["pages"][0]
    # The boxes are in the page's own pixels; the picture to draw on is a scaled-down JPEG of it.
    assert [page["width"], page["height"]] == entry["size"]
    shown = Image.open(io.BytesIO(base64.b64decode(page["image"])))
    assert shown.format == "JPEG" and max(shown.size) <= 1200
    assert abs(shown.width / shown.height - page["width"] / page["height"]) < 0.01

    # Boxes that are not boxes are a clear 400 (JSON allows NaN and Infinity: not here).
    for bad in ("[[0, 0, 10, 10]]", '[{"page": 0, "box": [0, 0, NaN, 10]}]', '[{"box": [10, 10, 0, 0]}]', "{}"):
        refused = self_check(client, data, regions=bad)
        assert refused.status_code == 400 and refused.json()["detail"]["code"] == "invalid_request", bad

    # A box in a corner does not answer "a number beside its label we cannot read": the page
    # is told where the number should be, outlined in red.
    elsewhere = self_check(client, data, regions=json.dumps([{"page": 0, "box": [0, 0, 40, 40]}]))
    assert elsewhere.status_code == 422, elsewhere.text
    missed = elsewhere.json()["detail"]
    assert "box_not_on_number" in {e["code"] for e in missed["explanations"]}
    (ax0, ay0, ax1, ay1), = [r["box"] for r in missed["leftovers"]]
    assert ax0 <= x0 and ay0 <= y0 and ax1 >= x1 and ay1 >= y1, "the red outline does not hold the number"

    second = self_check(client, data, regions=json.dumps([{"page": 0, "box": box}]))
    assert second.status_code == 200, second.text
    result = second.json()
    assert result["status"] == "redacted"
    review = result["record"]["review"]
    assert review["by"] == "requester" and review["regions_added"] == 1
    assert "other" in [e["kind"] for e in result["summary"]["legend"]]  # "door jou aangewezen"
    copy = base64.b64decode(result["file"]["base64"])
    pixels = np.asarray(Image.open(io.BytesIO(copy)).convert("L"))
    assert pixels[y0:y1, x0:x1].mean() < 5, "the requester's box is not black in the copy"
    jwks = client.get("/.well-known/jwks.json").json()
    assert verify_record(result["record"], jwks, copy).valid
    assert storage(server) == before


def test_rejected_upload_is_a_clear_error(server: Server, client: httpx.Client) -> None:
    before = storage(server)
    response = self_check(client, b"Dear organisation, here is my request.\n", name="passport.jpg")
    assert response.status_code in (400, 415)
    detail = response.json()["detail"]
    assert detail["code"] in ("unsupported_type", "unreadable") and detail["message"]
    too_long = self_check(client, b"x", purpose="p" * 201)
    assert too_long.status_code == 400 and too_long.json()["detail"]["code"] == "purpose_too_long"
    too_big = self_check(client, b"\xff" * (MAX_BYTES + 1))
    assert too_big.status_code == 413 and too_big.json()["detail"]["code"] == "too_large"
    no_file = client.post("/v1/self-check", files={"purpose": (None, "only a purpose")})
    assert no_file.status_code == 400
    assert storage(server) == before


def test_self_check_is_rate_limited_per_client(client: httpx.Client) -> None:
    # This server trusts X-Forwarded-For from loopback (forwarded_allow_ips), so these are two clients.
    busy, calm = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    codes = [client.post("/v1/self-check", headers=busy).status_code for _ in range(36)]
    assert codes[:30] == [400] * 30  # not a form: refused, but counted
    assert 429 in codes[30:]  # (the bucket refills by one every two seconds)
    limited = client.post("/v1/self-check", headers=busy)
    assert limited.json()["detail"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert client.post("/v1/self-check", headers=calm).status_code == 400


def test_config_tells_the_page_its_limits(client: httpx.Client) -> None:
    config = client.get("/v1/self-check/config").json()
    assert config["max_bytes"] == MAX_BYTES and config["send_enabled"] is True


# --- the summary, without the service ------------------------------------------------------


def test_legend_counts_a_number_found_twice_as_one() -> None:
    # The pipeline may mark one printed number both as BSN and as personal number.
    redactions = [
        RecordRedaction(kind="bsn", page=0, box=[561, 780, 751, 820]),
        RecordRedaction(kind="personal_number", page=0, box=[561, 780, 711, 820]),
        RecordRedaction(kind="bsn", page=0, box=[1190, 1042, 1456, 1088]),
        RecordRedaction(kind="portrait", page=0, box=[156, 240, 484, 695]),
        RecordRedaction(kind="personal_number", page=1, box=[10, 10, 90, 30]),
    ]
    labels = [e["label"]["nl"] for e in legend(redactions)]
    assert labels == ["BSN (2x)", "persoonsnummer", "pasfoto"]


def test_pdf_result_gets_a_preview_per_page() -> None:
    import pymupdf

    doc = pymupdf.open()
    for _ in range(2):
        doc.new_page(width=595, height=842)
    previews = [base64.b64decode(p) for p in pdf_previews(doc.tobytes())]
    assert len(previews) == 2
    for png in previews:
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.width <= 1200 and image.height > image.width
