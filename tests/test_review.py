"""The review station (issue 11) against a real `redactor serve` with the real pipeline: a
document the pipeline will not publish waits (encrypted) in a queue, from the intake and from a
watched folder, until staff publish it with their own boxes (same verification, signed record,
original deleted), reject it, or the retention purge deletes it."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from api_support import SAMPLE_DIR, Server, clean_env, run_cli, sample
from redactor.reasons import UNKNOWN, explain
from redactor.record import verify_record

SMEARED = "nl_idcard_2021_back_bsn_smeared.jpg"  # the BSN is smeared: the pipeline cannot find it
FACE_LETTER = "letter_with_photo.jpg"  # a face on a page that is no identity document
NOT_AN_ID = "letter_visa_passport_text.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("review")
    srv = Server.configure(
        base,
        workers="2",
        purge_interval_s="0",  # the purge is run on demand below
        request_timeout_s="600",
        review_queue="on",
        review_watch_root=str(base / "watch"),
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    return {
        "review": server.create_key("review", name="privacy-office"),
        "submit": server.create_key("submit", name="intake-form"),
        "read": server.create_key("read", "submit", "delete", "metrics", name="everything-but-review"),
    }


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=600) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def queue_from_intake(client: httpx.Client, key: str, name: str, **fields: str) -> httpx.Response:
    data, _ = sample(name, "needs_review")
    return client.post(
        "/v1/redactions",
        files={"file": ("Jansen-ID.jpg", data, "image/jpeg")},
        data={"on_review": "queue", **fields},
        headers=auth(key),
    )


def on_disk(server: Server) -> list[bytes]:
    """Every file the service has written (data and keys), to search for the original."""
    return [p.read_bytes() for p in server.base_dir.rglob("*") if p.is_file() and p.name != "server.log"]


def sealed_files(server: Server) -> list[str]:
    review_dir = server.data_dir / "review"
    return sorted(p.name for p in review_dir.iterdir()) if review_dir.exists() else []


def blackness(image: bytes, box: list[int]) -> float:
    """Mean brightness (0 black, 255 white) of `box` in a redacted copy."""
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("L"))
    x0, y0, x1, y1 = box
    return float(pixels[y0:y1, x0:x1].mean())


def bsn_box(name: str) -> list[int]:
    _, entry = sample(name, "needs_review")
    return entry["personal_numbers"][0]["box"]


def verifies(client: httpx.Client, record: dict[str, Any], copy: bytes) -> bool:
    jwks = client.get("/.well-known/jwks.json").json()
    return verify_record(record, jwks, copy).valid


# --- the intake ---------------------------------------------------------------------------------


def test_intake_item_is_queued_listed_and_published_with_one_added_box(
    server: Server, client: httpx.Client, keys: dict[str, str]
) -> None:
    original, entry = sample(SMEARED, "needs_review")
    answer = queue_from_intake(client, keys["submit"], SMEARED, reference="case-11")
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    review_id = queued["review_id"]
    assert answer.headers["location"] == f"/v1/reviews/{review_id}"
    # Plain words with the next step, in both languages.
    codes = {e["code"] for e in queued["explanations"]}
    assert codes & {"number_unreadable", "bsn_not_found"}, queued["explanations"]
    assert all(e["text"]["nl"] and e["next_step"]["en"] for e in queued["explanations"])
    # Waiting encrypted: the original's bytes are nowhere on disk, its sealed form is.
    assert not any(original in blob for blob in on_disk(server))
    assert sealed_files(server) == [f"{review_id}.sealed"]

    listed = client.get("/v1/reviews", headers=auth(keys["review"])).json()["items"]
    mine = next(i for i in listed if i["id"] == review_id)
    assert mine["source"] == "intake" and mine["pages"] == 1 and mine["reasons"] == queued["reasons"]

    item = client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).json()
    assert item["page_sizes"] == [{"width": entry["size"][0], "height": entry["size"][1]}]
    assert "qr_code" in {p["kind"] for p in item["proposed"]}  # the QR code was found; the number was not

    page = client.get(f"/v1/reviews/{review_id}/pages/0", headers=auth(keys["review"]))
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert page.headers["cache-control"] == "no-store"
    assert Image.open(io.BytesIO(page.content)).size == tuple(entry["size"])  # small enough to send whole

    box = bsn_box(SMEARED)
    published = client.post(
        f"/v1/reviews/{review_id}/publish",
        json={"regions": [{"page": 0, "box": box, "kind": "bsn"}]},
        headers=auth(keys["review"]),
    )
    assert published.status_code == 201, published.text
    record = published.json()["record"]
    assert record["status"] == "redacted"
    assert record["review"]["by"] == "staff" and record["review"]["regions_added"] == 1
    assert record["review"]["reviewer_key_id"] == keys["review"].split("_")[1]
    assert record["review"]["review_id"] == review_id  # the record names the queue item it finished

    # The copy is stored for the intake like any other, under the submitter's reference.
    stored = client.get("/v1/redactions?reference=case-11", headers=auth(keys["read"])).json()["items"]
    assert [s["id"] for s in stored] == [record["record_id"]]
    copy = client.get(f"/v1/redactions/{record['record_id']}/file", headers=auth(keys["read"])).content
    assert verifies(client, record, copy)
    assert blackness(copy, box) < 5, "the added box is not black in the published copy"
    qr = next(q["box"] for q in entry["qr_codes"])
    assert blackness(copy, qr) < 5, "the proposed QR code is not black in the published copy"

    # The original is gone from the queue and from disk.
    assert client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).status_code == 404
    assert review_id not in {i["id"] for i in client.get("/v1/reviews", headers=auth(keys["review"])).json()["items"]}
    assert sealed_files(server) == []


def test_reject_signs_a_rejected_record_and_deletes_the_original(
    server: Server, client: httpx.Client, keys: dict[str, str]
) -> None:
    review_id = queue_from_intake(client, keys["submit"], NOT_AN_ID).json()["review_id"]
    answer = client.post(
        f"/v1/reviews/{review_id}/reject", json={"reason": "Not an identity document"}, headers=auth(keys["review"])
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()["record"]
    assert record["status"] == "rejected" and record["reasons"] == ["Not an identity document"]
    assert record["review"]["by"] == "staff" and record["redacted_sha256"] is None
    assert verify_record(record, client.get("/.well-known/jwks.json").json()).valid
    assert client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).status_code == 404
    assert f"{review_id}.sealed" not in sealed_files(server)


def test_publish_that_would_leave_a_face_is_refused_with_what_and_where(
    server: Server, client: httpx.Client, keys: dict[str, str]
) -> None:
    _, entry = sample(FACE_LETTER, "needs_review")
    review_id = queue_from_intake(client, keys["submit"], FACE_LETTER).json()["review_id"]
    item = client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).json()
    photo_ids = [p["id"] for p in item["proposed"] if p["kind"] in ("portrait", "face")]
    assert photo_ids, item["proposed"]

    # A reviewer drops the photo's box by mistake: verification still sees the face.
    refused = client.post(
        f"/v1/reviews/{review_id}/publish", json={"dropped": photo_ids}, headers=auth(keys["review"])
    )
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert detail["code"] == "still_visible"
    faces = [r for r in detail["leftovers"] if r["kind"] == "face"]
    assert faces, detail
    px0, py0, px1, py1 = entry["portraits"][0]["box"]
    x0, y0, x1, y1 = faces[0]["box"]
    assert px0 <= (x0 + x1) / 2 <= px1 and py0 <= (y0 + y1) / 2 <= py1, "the face reported is not the photo"
    assert "face_still_visible" in {e["code"] for e in detail["explanations"]}
    # Nothing was published and the item still waits, free for the next try.
    assert client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).status_code == 200
    again = client.post(f"/v1/reviews/{review_id}/publish", json={}, headers=auth(keys["review"]))
    assert again.status_code == 201, again.text


def test_every_review_endpoint_needs_a_review_key(client: httpx.Client, keys: dict[str, str]) -> None:
    calls = [
        ("GET", "/v1/reviews", None, 200),
        ("GET", "/v1/reviews/abc", None, 404),
        ("GET", "/v1/reviews/abc/pages/0", None, 404),
        ("POST", "/v1/reviews/abc/publish", {"regions": []}, 404),
        ("POST", "/v1/reviews/abc/reject", {"reason": "x"}, 404),
    ]
    for method, path, body, with_key in calls:
        assert client.request(method, path, json=body).status_code == 401, path
        assert client.request(method, path, json=body, headers=auth(keys["read"])).status_code == 403, path
        assert client.request(method, path, json=body, headers=auth(keys["review"])).status_code == with_key, path


def test_bad_publish_bodies_are_400(client: httpx.Client, keys: dict[str, str]) -> None:
    review_id = queue_from_intake(client, keys["submit"], NOT_AN_ID).json()["review_id"]
    for body in (
        {"regions": [{"page": 3, "box": [0, 0, 10, 10]}]},
        {"regions": [{"page": 0, "box": [50, 50, 10, 10]}]},
        {"regions": [{"page": 0, "box": [0, 0, 10]}]},
        {"dropped": [99]},
        {"regions": [{"page": 0, "box": [0, 0, 10, 10], "kind": "anything"}]},
    ):
        answer = client.post(f"/v1/reviews/{review_id}/publish", json=body, headers=auth(keys["review"]))
        assert answer.status_code == 400, (body, answer.text)
    client.post(f"/v1/reviews/{review_id}/reject", json={"reason": "test"}, headers=auth(keys["review"]))


# --- the watched folder -------------------------------------------------------------------------


def wait_for(check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_watch_folder_item_is_queued_then_published_to_done(
    server: Server, client: httpx.Client, keys: dict[str, str]
) -> None:
    root = Path(server.env["REDACTOR_REVIEW_WATCH_ROOT"])
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE_DIR / SMEARED, root / "inbox" / "jansen-id.jpg")
    # The real watcher sets it aside, with the same keys as the service.
    watched = run_cli(["watch", "--root", str(root), "--once", "--stable-seconds", "0"], server.env, timeout=300)
    assert watched.returncode == 0, watched.stderr
    reason_file = root / "review" / "jansen-id.reason.txt"
    assert (root / "review" / "jansen-id.jpg").exists() and reason_file.exists()

    # The service takes it into the queue, encrypted, and removes the plaintext from review/.
    def queued() -> dict[str, Any] | None:
        items = client.get("/v1/reviews", headers=auth(keys["review"])).json()["items"]
        return next((i for i in items if i["source"] == "watch"), None)

    item = wait_for(queued)
    assert not (root / "review" / "jansen-id.jpg").exists()
    assert reason_file.exists()  # staff still see why, and when it goes
    original = (SAMPLE_DIR / SMEARED).read_bytes()
    assert not any(original in blob for blob in on_disk(server))

    box = bsn_box(SMEARED)
    published = client.post(
        f"/v1/reviews/{item['id']}/publish", json={"regions": [{"page": 0, "box": box}]}, headers=auth(keys["review"])
    )
    assert published.status_code == 201, published.text
    assert published.json()["file"] == "jansen-id.redacted.png"
    copy = (root / "done" / "jansen-id.redacted.png").read_bytes()
    record = json.loads((root / "done" / "jansen-id.record.json").read_text())
    assert record == published.json()["record"] and verifies(client, record, copy)
    assert blackness(copy, box) < 5
    assert sorted(os.listdir(root / "review")) == []
    assert f"{item['id']}.sealed" not in sealed_files(server)


# --- retention (last: it empties the queue) -----------------------------------------------------


def test_retention_purge_deletes_waiting_originals_with_a_log_line(
    server: Server, client: httpx.Client, keys: dict[str, str]
) -> None:
    review_id = queue_from_intake(client, keys["submit"], NOT_AN_ID).json()["review_id"]
    root = Path(server.env["REDACTOR_REVIEW_WATCH_ROOT"])
    # An item the watcher set aside while no service took it in.
    (root / "review").mkdir(parents=True, exist_ok=True)
    (root / "review" / "old.jpg").write_bytes(b"original")
    (root / "review" / "old.reason.txt").write_text("why")
    assert f"{review_id}.sealed" in sealed_files(server)

    env = clean_env({**{k: v for k, v in server.env.items() if k.startswith("REDACTOR_")}, "REDACTOR_REVIEW_RETENTION_DAYS": "0"})
    purged = run_cli(["purge"], env)
    assert purged.returncode == 0, purged.stderr
    assert "original(s) waiting for review" in purged.stdout
    lines = [json.loads(line) for line in purged.stderr.splitlines() if line.startswith("{")]
    deleted = [line for line in lines if line.get("event") == "review original deleted after the retention period"]
    assert {line.get("review_id") for line in deleted} >= {review_id}
    assert any(line.get("source") == "watch" for line in deleted)
    assert client.get(f"/v1/reviews/{review_id}", headers=auth(keys["review"])).status_code == 404
    assert sealed_files(server) == []
    assert os.listdir(root / "review") == []


def test_every_reason_the_pipeline_can_give_has_plain_words() -> None:
    """Each document kind with nothing found gives every doubt decide can have; verification's
    and the number finder's reasons are added as they are written. None may fall back to the
    general text, on one page or on page 2 of several."""
    from redactor.core import PageFindings
    from redactor.decide import _page_reasons, decide
    from redactor.documents import _kind
    from redactor.resources import model_json

    table = model_json("documents.json")
    label_doubt = "A personal-number label ('Persoonsnummer') was found but no readable number next to it."
    reasons = [
        "A face-like region remains visible after redaction.",
        "Part of a personal number is still readable after redaction.",
        "A QR code is still detectable after redaction.",
        "The MRZ holds part of a personal number that was not blacked out.",
        "The document could not be analysed completely; a person must check it.",
        "No box covers the place where the unread number should be (outlined in red).",
        "The MRZ of this passport, data page holds a personal number, but it was not found printed on the page, "
        "where documents of unknown layout usually print it.",
    ]
    for key in table["kinds"]:
        second_page = SimpleNamespace(page=SimpleNamespace(index=1))  # all decide reads of a page here
        kind = _kind(table, key, "test")
        bare = PageFindings(upright=second_page, mrz=None, document=kind, regions=[], doubts=[label_doubt])  # type: ignore[arg-type]
        reasons += _page_reasons(bare, 1) + _page_reasons(bare, 2)
    reasons += decide([]).reasons  # "No identity document was recognised"
    unknown = [r for r in reasons if explain(r) == UNKNOWN]
    assert not unknown
    assert {explain(r).code for r in reasons} >= {
        "number_unreadable", "bsn_not_found", "mrz_unreadable", "photo_missing", "ghost_missing", "qr_missing",
        "not_an_id", "face_still_visible", "number_still_readable", "qr_still_visible", "analysis_failed",
        "personal_number_not_found",
    }
