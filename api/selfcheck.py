"""The self-check endpoints behind the requester page (issue 4).

`POST /v1/self-check`: a requester uploads a photo or scan of their ID and gets the redacted
copy back to look at, inline as base64, with the signed record and a plain-language summary in
Dutch and English. Nothing is stored: the upload is read into memory (api.upload), the pipeline
runs in the service's process pool, and no row or file is written.

`POST /v1/self-check/send`: the page hands back the redacted copy and the signed record it was
given; when the signature checks out, the copy is exactly what the pipeline produced, so it is
stored under the intake reference configured on the server. The original is never sent twice and
the browser never holds an API key. A record is stored at most once, even after its copy was
deleted or purged (a tombstone of its id is kept while it could still be sent), only when signed
by the current key, and never when dated in the future. See docs/page.md.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.ratelimit import client_id, selfcheck_limit
from api.review_queue import region_json
from api.runner import QueueFull, RunnerUnavailable, RunTimeout
from api.routes import (
    FILE_FIELD,
    audit,
    clean_purpose,
    error,
    multipart_body,
    outcome_error,
    parse_json,
    read_document,
    run_pipeline,
    short_reference,
    store_redaction,
)
from api.schemas import errors
from api.services import Services, get_services
from api.upload import read_form
from redactor.formats import MAX_PURPOSE_CHARS, output_type
from redactor.reasons import explanations
from redactor.record import (
    MAX_RECORD_BYTES,
    DocumentSummary,
    Record,
    RecordError,
    RecordRedaction,
    utc_now,
    verify_record,
)

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
    from redactor.core import Region
    from redactor.pipeline import Outcome

router = APIRouter(prefix="/v1/self-check", tags=["self-check"])

PREVIEW_MAX_WIDTH_PX = 1200
# Clocks differ a little; a record dated further ahead than this was not made here and now.
MAX_CLOCK_SKEW = timedelta(minutes=1)


class SelfCheckSettings(BaseSettings):
    """Settings of the self-check page, from REDACTOR_* variables like the rest of the service."""

    model_config = SettingsConfigDict(env_prefix="REDACTOR_", extra="ignore")

    # The intake reference under which "send" stores copies; empty means the page offers no send.
    selfcheck_send_reference: str = ""
    # A self-check result can be sent this long after it was made, and only once.
    selfcheck_send_window_minutes: float = 30.0


def selfcheck_settings(request: Request) -> SelfCheckSettings:
    """Read once per app (not per request) and kept next to the service's own settings."""
    state = request.app.state
    if getattr(state, "selfcheck_settings", None) is None:
        state.selfcheck_settings = SelfCheckSettings()
    return state.selfcheck_settings


# ---------------------------------------------------------------------------------------------
# The plain-language summary

Text = dict[str, str]  # {"nl": ..., "en": ...}

KIND_LABELS: dict[str, Text] = {
    "bsn": {"nl": "BSN", "en": "BSN"},
    "personal_number": {"nl": "persoonsnummer", "en": "personal number"},
    "portrait": {"nl": "pasfoto", "en": "photo"},
    "ghost_portrait": {"nl": "tweede pasfoto", "en": "second (ghost) photo"},
    "mrz_digits": {"nl": "cijfers in de machineleesbare zone", "en": "digits in the machine readable zone"},
    "face": {"nl": "gezicht", "en": "face"},
    "qr_code": {"nl": "QR-code", "en": "QR code"},
    "text_layer": {"nl": "verborgen tekstlaag van de pdf", "en": "hidden text layer of the PDF"},
    "other": {"nl": "door jou aangewezen", "en": "marked by you"},
}
# The legend lists the kinds in this order, whatever order the pipeline found them in.
KIND_ORDER = list(KIND_LABELS)

DOC_TYPES: dict[str, Text] = {
    "passport": {"nl": "paspoort", "en": "passport"},
    "identity_card": {"nl": "identiteitskaart", "en": "identity card"},
    "driving_licence": {"nl": "rijbewijs", "en": "driving licence"},
    "visa": {"nl": "visum", "en": "visa"},
    "travel_document": {"nl": "reisdocument", "en": "travel document"},
}


MONTHS: dict[str, list[str]] = {
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
}
# A number found both as "BSN" and as "personal number" is one number: count it as a BSN.
SAME_THING = {"personal_number": "bsn"}


def _times(label: Text, count: int) -> Text:
    return {lang: (f"{text} ({count}x)" if count > 1 else text) for lang, text in label.items()}


def _overlap(a: list[int], b: list[int]) -> float:
    """Intersection area as a fraction of the smaller box."""
    if len(a) != 4 or len(b) != 4:
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / smaller if smaller > 0 else 0.0


def distinct_redactions(redactions: list[RecordRedaction]) -> list[RecordRedaction]:
    """One entry per thing blacked out: boxes over the same spot (a number found twice, once as
    BSN and once as personal number) count once, so the legend says `BSN (2x)`, not 3 items."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    kept: list[RecordRedaction] = []
    for r in sorted(redactions, key=lambda r: rank.get(r.kind, len(rank))):
        family = SAME_THING.get(r.kind, r.kind)
        duplicate = any(
            SAME_THING.get(k.kind, k.kind) == family and k.page == r.page and _overlap(r.box, k.box) >= 0.5
            for k in kept
        )
        if not duplicate:
            kept.append(r)
    return kept


def legend(redactions: list[RecordRedaction]) -> list[dict[str, Any]]:
    """What was blacked out, one entry per kind: `BSN (2x)`, `pasfoto`, `tweede pasfoto`."""
    counts = Counter(r.kind for r in distinct_redactions(redactions))
    order = KIND_ORDER + sorted(k for k in counts if k not in KIND_ORDER)
    return [
        {
            "kind": kind,
            "count": counts[kind],
            "label": _times(KIND_LABELS.get(kind, {"nl": kind, "en": kind}), counts[kind]),
        }
        for kind in order
        if counts[kind]
    ]


def _fact(key: str, ok: bool | None, nl: str, en: str) -> dict[str, Any]:
    return {"key": key, "ok": ok, "text": {"nl": nl, "en": en}}


def _date(iso: str | None) -> Text:
    """`2029-04-13` -> 13 april 2029 / 13 April 2029 (as printed, when it is not a date)."""
    try:
        d = date.fromisoformat(str(iso))
    except ValueError:
        return {"nl": str(iso), "en": str(iso)}
    return {lang: f"{d.day} {months[d.month - 1]} {d.year}" for lang, months in MONTHS.items()}


def _type_fact(document: DocumentSummary) -> dict[str, Any]:
    doc_type = document.type
    if doc_type == "unknown":
        return _fact("type", None, "Soort document: niet herkend", "Document type: not recognised")
    names = DOC_TYPES.get(doc_type, {"nl": doc_type, "en": doc_type})
    state = document.issuing_state
    where = f" ({state})" if state else ""
    return _fact("type", None, f"Soort document: {names['nl']}{where}", f"Document type: {names['en']}{where}")


def _expiry_fact(document: DocumentSummary) -> dict[str, Any]:
    expired = document.expired
    when = _date(document.expiry_date)
    if expired is False:
        return _fact("expiry", True, f"Geldig tot {when['nl']}", f"Valid until {when['en']}")
    if expired is True:
        return _fact(
            "expiry",
            False,
            f"Verlopen op {when['nl']}: de organisatie kan om een geldig document vragen",
            f"Expired on {when['en']}: the organisation may ask for a valid document",
        )
    return _fact("expiry", None, "Geldigheid niet gevonden", "Expiry date not found")


def _mrz_fact(document: DocumentSummary) -> dict[str, Any]:
    valid = document.mrz_valid
    if valid is True:
        return _fact(
            "mrz",
            True,
            "Machineleesbare zone (MRZ) gelezen, de controlecijfers kloppen",
            "Machine readable zone (MRZ) read, its check digits are correct",
        )
    if valid is False:
        return _fact(
            "mrz",
            False,
            "Machineleesbare zone (MRZ) niet foutloos gelezen: de organisatie controleert je gegevens dan zelf",
            "Machine readable zone (MRZ) not read without errors: the organisation will check your details itself",
        )
    return _fact("mrz", None, "Geen machineleesbare zone (MRZ) gevonden", "No machine readable zone (MRZ) found")


def facts(document: DocumentSummary, purpose: str | None) -> list[dict[str, Any]]:
    """The record's findings about the document, each marked good (True), bad (False) or neutral."""
    out = [_type_fact(document), _expiry_fact(document), _mrz_fact(document)]
    if purpose:
        out.append(_fact("watermark", True, f"Watermerk: {purpose}", f"Watermark: {purpose}"))
    return out


def _join(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


def describe(status: str, entries: list[dict[str, Any]]) -> Text:
    """One sentence for the preview's alt text and the screen-reader announcement."""
    if status != "redacted":
        return {
            "nl": "Niet gelukt: we weten niet zeker of alles onleesbaar is. Er wordt niets getoond of bewaard.",
            "en": "Not done: we are not sure everything is unreadable. Nothing is shown or kept.",
        }
    if not entries:
        return {
            "nl": "Kopie van je document; er is niets zwart gemaakt.",
            "en": "Copy of your document; nothing was blacked out.",
        }
    nl = _join([e["label"]["nl"] for e in entries], "en")
    en = _join([e["label"]["en"] for e in entries], "and")
    verb = "zijn" if len(entries) > 1 or entries[0]["count"] > 1 else "is"
    return {
        "nl": f"Kopie van je document waarop {nl} zwart gemaakt {verb}.",
        "en": f"Copy of your document with {en} blacked out.",
    }


def summarise(outcome: Outcome, purpose: str | None) -> dict[str, Any]:
    record = Record.parse(outcome.record)
    entries = legend(record.redactions)
    return {
        "legend": entries,
        "facts": facts(record.document or DocumentSummary(), purpose if outcome.status == "redacted" else None),
        "description": describe(outcome.status, entries),
        "reasons": list(outcome.reasons),
    }


# ---------------------------------------------------------------------------------------------
# Previews


def pdf_previews(pdf: bytes) -> list[str]:
    """PNG renderings of a redacted PDF's pages, because the page's CSP allows no PDF viewer."""
    import pymupdf

    previews = []
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        for page in doc:
            zoom = min(2.0, PREVIEW_MAX_WIDTH_PX / max(page.rect.width, 1.0))
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            previews.append(base64.b64encode(pix.tobytes("png")).decode("ascii"))
    return previews


# ---------------------------------------------------------------------------------------------
# Endpoints


@router.get("/config")
async def config(request: Request, extra: SelfCheckSettings = Depends(selfcheck_settings)) -> dict[str, Any]:
    """What the page needs before an upload: the limits, and whether sending is offered."""
    settings = get_services(request).settings
    return {
        "max_bytes": settings.max_bytes,
        "max_pages": settings.max_pages,
        "max_megapixels": settings.max_megapixels,
        "max_purpose_chars": MAX_PURPOSE_CHARS,
        "send_enabled": bool(extra.selfcheck_send_reference),
    }


_CHECK_BODY = multipart_body(
    ["file"],
    {
        "file": FILE_FIELD,
        "purpose": {"type": "string", "maxLength": MAX_PURPOSE_CHARS, "description": "Watermark text"},
        "regions": {
            "type": "string",
            "description": 'JSON list of boxes the requester drew, [{"page": 0, "box": [x0, y0, x1, y1]}], in the '
            "pixels of the pages a needs_review answer showed: blacked out on top of what the pipeline finds, "
            "then the result is checked again",
        },
    },
)
# Boxes one requester may draw on one document.
MAX_DRAWN = 50
# The pages a needs_review answer shows the requester to draw on.
DRAW_PAGE_MAX_SIDE = 1200


def drawn_regions(form: Any) -> "list[Region] | None":
    """The requester's boxes from the `regions` field; None when there is none."""
    from redactor.core import Region, RegionKind  # light: dataclasses and numpy

    raw = form.parts.get("regions")
    if raw is None:
        return None
    value = parse_json(raw, "regions")
    if not isinstance(value, list) or len(value) > MAX_DRAWN:
        raise error(400, "invalid_request", f"'regions' must be a list of at most {MAX_DRAWN} boxes.")
    regions = []
    for item in value:
        box = item.get("box") if isinstance(item, dict) else None
        page = item.get("page", 0) if isinstance(item, dict) else None
        if (
            not isinstance(page, int) or not 0 <= page < 1000 or not isinstance(box, list) or len(box) != 4
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box)
            or box[2] - box[0] < 1 or box[3] - box[1] < 1
        ):
            raise error(400, "invalid_request", "Each region needs a page and a box [x0, y0, x1, y1] with x0 < x1, y0 < y1.")
        regions.append(Region(RegionKind.OTHER, page, tuple(max(0.0, float(v)) for v in box), "drawn by the requester"))
    return regions


async def drawing_pages(request: Request, data: bytes, outcome: Outcome) -> dict[str, Any]:
    """What the page needs to let the requester draw: their pages (JPEG, scaled down), the
    page sizes the boxes are in, and what the pipeline would black out. Nothing when the
    workers are too busy to render them (the requester then sees the reasons only)."""
    from api import worker

    try:
        images = await get_services(request).runner.call(
            worker.render_pages, (data, DRAW_PAGE_MAX_SIDE, "jpeg", None), learn=False
        )
    except (QueueFull, RunnerUnavailable, RunTimeout):
        return {}
    return {
        "pages": [
            {"width": w, "height": h, "image": base64.b64encode(img).decode("ascii")}
            for (w, h), img in zip(outcome.page_sizes, images)
        ],
        "proposed": [region_json(r) for r in outcome.proposed],
        "leftovers": [region_json(r) for r in outcome.leftovers],
    }


_SEND_BODY = multipart_body(
    ["record", "file"],
    {
        "record": {"type": "string", "description": "The record as JSON, exactly as POST /v1/self-check returned it"},
        "file": {"type": "string", "format": "binary", "description": "The redacted copy, exactly as returned"},
    },
)


@router.post(
    "", dependencies=[Depends(selfcheck_limit)], openapi_extra=_CHECK_BODY, responses=errors(400, 408, 413, 415, 422, 429, 503, 504)
)
async def self_check(request: Request) -> dict[str, Any]:
    """Redact the upload and return the result inline. Stores nothing. With `regions` (boxes
    the requester drew after a needs_review answer) those are blacked out too, and the result
    is verified again like any other."""
    from redactor.core import Review

    services = get_services(request)
    data, form = await read_document(request, services)
    purpose = clean_purpose(form)
    drawn = drawn_regions(form)
    review = Review("requester", tuple(drawn)) if drawn is not None else None
    outcome = await run_pipeline(request, data, purpose, review=review)
    if outcome.status == "rejected":
        raise outcome_error(outcome)
    summary = summarise(outcome, purpose)
    if outcome.status != "redacted" or outcome.output is None:
        drawing = await drawing_pages(request, data, outcome)
        del data
        message = "; ".join(outcome.reasons) or "The document needs a person to check it."
        raise error(
            422, "needs_review", message, record=outcome.record, summary=summary,
            explanations=explanations(outcome.reasons), **drawing,
        )
    del data  # the original is not needed any more
    previews = await run_in_threadpool(pdf_previews, outcome.output) if outcome.extension == "pdf" else []
    return {
        "status": outcome.status,
        "summary": summary,
        "record": outcome.record,
        "file": {
            "media_type": outcome.media_type,
            "extension": outcome.extension,
            "base64": base64.b64encode(outcome.output).decode("ascii"),
        },
        "previews": previews,
    }


def check_sendable(record_data: dict[str, Any], data: bytes, jwks: dict[str, Any], window: timedelta) -> Outcome:
    """Only a copy this service made and signed with its current key (`jwks`), recently, with
    status redacted, dated no further ahead than the clocks may differ, may be sent."""
    from redactor.pipeline import Outcome  # imported here: the module pulls in the whole pipeline

    result = verify_record(record_data, jwks, data)
    if not result.valid:
        raise error(400, "invalid_record", f"This copy cannot be sent: {result.reason}.")
    try:
        record = Record.parse(record_data)
    except RecordError as exc:
        raise error(400, "invalid_record", f"This copy cannot be sent: {exc}.") from None
    if record.status != "redacted":
        raise error(400, "invalid_record", "Only a redacted copy can be sent.")
    issued = record.issued()
    if issued is None:
        raise error(400, "invalid_record", "The record has no valid issued_at.")
    now = utc_now()
    if issued - now > MAX_CLOCK_SKEW:
        raise error(400, "invalid_record", "This copy cannot be sent: the record is dated in the future.")
    if now - issued > window:
        raise error(410, "expired", "This result is too old to send; check the document again.")
    kind = output_type(data)
    if kind is None:
        raise error(400, "invalid_request", "The file is not a redacted copy made by this service.")
    return Outcome(
        status="redacted",
        reasons=list(record.reasons),
        record=record_data,
        output=data,
        extension=kind.extension,
        media_type=kind.media_type,
    )


def _store_once(services: Services, outcome: Outcome, reference: str, sent_until: datetime) -> bool:
    """Store the copy unless this record was stored before (even if since deleted or purged);
    True when stored now. Audited as a `send` (no key: the page has none)."""
    record_id = str(outcome.record["record_id"])
    if services.db.was_sent(record_id):
        return False
    try:
        store_redaction(services, outcome, reference, submitted_by=None, sent_until=sent_until)
    except IntegrityError:  # a second click raced the first one: the first one stores it
        return False
    audit(services, "send", None, record_id)
    return True


@router.post(
    "/send", dependencies=[Depends(selfcheck_limit)], openapi_extra=_SEND_BODY, responses=errors(400, 404, 408, 410, 413, 429)
)
async def send(request: Request, extra: SelfCheckSettings = Depends(selfcheck_settings)) -> dict[str, Any]:
    """Store a self-check result for the organisation: multipart `record` (JSON) and `file`."""
    if not extra.selfcheck_send_reference:
        raise error(404, "not_found", "Sending is not enabled on this service.")
    services = get_services(request)
    settings = services.settings
    with services.uploads.slot(client_id(request)):
        form = await read_form(
            request,
            file_fields={"file": settings.max_bytes, "record": MAX_RECORD_BYTES},
            timeout_s=settings.upload_timeout_s,
        )
    data, raw_record = form.parts.get("file"), form.parts.get("record")
    if not data or not raw_record:
        raise error(400, "invalid_request", "Send the redacted copy as 'file' and its record as 'record'.")
    record = parse_json(raw_record, "record")
    if not isinstance(record, dict):
        raise error(400, "invalid_request", "The record is not a JSON object.")
    jwks = await run_in_threadpool(services.keys.current_jwks)  # a retired key's records are not new
    window = timedelta(minutes=extra.selfcheck_send_window_minutes)
    outcome = check_sendable(record, data, jwks, window)
    # The tombstone lasts as long as the record could be sent (issued_at + window, + clock skew).
    sent_until = (Record.parse(record).issued() or utc_now()) + window + MAX_CLOCK_SKEW
    stored = await run_in_threadpool(_store_once, services, outcome, extra.selfcheck_send_reference, sent_until)
    request.state.outcome = "sent" if stored else "already_sent"
    return {"reference": record["record_id"], "short_reference": short_reference(str(record["record_id"])), "stored": stored}
