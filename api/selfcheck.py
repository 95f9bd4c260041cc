"""The self-check endpoints behind the requester page (issue 4).

`POST /v1/self-check`: a requester uploads a photo or scan of their ID and gets the redacted
copy back to look at, inline as base64, with the signed record and a plain-language summary in
Dutch and English. Nothing is stored: the upload is read into memory (api.upload), the pipeline
runs in the service's process pool, and no row or file is written.

`POST /v1/self-check/send`: the page hands back the redacted copy and the signed record it was
given; when the signature checks out, the copy is exactly what the pipeline produced, so it is
stored under the intake reference configured on the server. The original is never sent twice and
the browser never holds an API key. See docs/page.md.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.ratelimit import client_id, selfcheck_limit
from api.routes import error, outcome_error, read_document, run_pipeline, store_redaction
from api.services import Services, get_services
from api.upload import Form, read_form
from redactor.record import verify_record

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
    from redactor.pipeline import Outcome

router = APIRouter(prefix="/v1/self-check", tags=["self-check"])

MAX_PURPOSE_CHARS = 200  # the same limit as the intake endpoint
MAX_RECORD_BYTES = 256 * 1024
PREVIEW_MAX_WIDTH_PX = 1200


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


def clean_purpose(form: Form) -> str | None:
    """The watermark text as typed, on one line; too long is an error rather than a silent cut."""
    raw = form.parts.get("purpose")
    if raw is None:
        return None
    try:
        text = " ".join(raw.decode("utf-8").split())
    except UnicodeDecodeError:
        raise error(400, "invalid_request", "The watermark text is not UTF-8 text.") from None
    if len(text) > MAX_PURPOSE_CHARS:
        raise error(400, "purpose_too_long", f"The watermark text may be at most {MAX_PURPOSE_CHARS} characters.")
    return text or None


# ---------------------------------------------------------------------------------------------
# The plain-language summary

Text = dict[str, str]  # {"nl": ..., "en": ...}

KIND_LABELS: dict[str, Text] = {
    "bsn": {"nl": "BSN", "en": "BSN"},
    "personal_number": {"nl": "persoonsnummer", "en": "personal number"},
    "portrait": {"nl": "pasfoto", "en": "photo"},
    "ghost_portrait": {"nl": "tweede pasfoto", "en": "second (ghost) photo"},
    "text_layer": {"nl": "verborgen tekstlaag van de pdf", "en": "hidden text layer of the PDF"},
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


def _overlap(a: list[float], b: list[float]) -> float:
    """Intersection area as a fraction of the smaller box."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / smaller if smaller > 0 else 0.0


def distinct_redactions(redactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per thing blacked out: boxes over the same spot (a number found twice, once as
    BSN and once as personal number) count once, so the legend says `BSN (2x)`, not 3 items."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    kept: list[dict[str, Any]] = []
    for r in sorted(redactions, key=lambda r: rank.get(str(r.get("kind")), len(rank))):
        kind = str(r.get("kind"))
        family = SAME_THING.get(kind, kind)
        box = r.get("box") or [0, 0, 0, 0]
        duplicate = any(
            SAME_THING.get(str(k.get("kind")), str(k.get("kind"))) == family
            and k.get("page") == r.get("page")
            and _overlap(box, k.get("box") or [0, 0, 0, 0]) >= 0.5
            for k in kept
        )
        if not duplicate:
            kept.append(r)
    return kept


def legend(redactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What was blacked out, one entry per kind: `BSN (2x)`, `pasfoto`, `tweede pasfoto`."""
    counts = Counter(str(r.get("kind")) for r in distinct_redactions(redactions))
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


def _date(iso: Any) -> Text:
    """`2029-04-13` -> 13 april 2029 / 13 April 2029 (as printed, when it is not a date)."""
    try:
        d = date.fromisoformat(str(iso))
    except ValueError:
        return {"nl": str(iso), "en": str(iso)}
    return {lang: f"{d.day} {months[d.month - 1]} {d.year}" for lang, months in MONTHS.items()}


def _type_fact(document: dict[str, Any]) -> dict[str, Any]:
    doc_type = document.get("type")
    if doc_type in (None, "unknown"):
        return _fact("type", None, "Soort document: niet herkend", "Document type: not recognised")
    names = DOC_TYPES.get(str(doc_type), {"nl": str(doc_type), "en": str(doc_type)})
    state = document.get("issuing_state")
    where = f" ({state})" if state else ""
    return _fact("type", None, f"Soort document: {names['nl']}{where}", f"Document type: {names['en']}{where}")


def _expiry_fact(document: dict[str, Any]) -> dict[str, Any]:
    expired = document.get("expired")
    when = _date(document.get("expiry_date"))
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


def _mrz_fact(document: dict[str, Any]) -> dict[str, Any]:
    valid = document.get("mrz_valid")
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


def facts(document: dict[str, Any], purpose: str | None) -> list[dict[str, Any]]:
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
    record = outcome.record
    entries = legend(list(record.get("redactions") or []))
    return {
        "legend": entries,
        "facts": facts(dict(record.get("document") or {}), purpose if outcome.status == "redacted" else None),
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


@router.post("", dependencies=[Depends(selfcheck_limit)])
async def self_check(request: Request) -> dict[str, Any]:
    """Redact the upload and return the result inline. Stores nothing."""
    services = get_services(request)
    data, form = await read_document(request, services)
    purpose = clean_purpose(form)
    outcome = await run_pipeline(request, data, purpose)
    del data  # the original is not needed any more
    if outcome.status == "rejected":
        raise outcome_error(outcome)
    summary = summarise(outcome, purpose)
    if outcome.status != "redacted" or outcome.output is None:
        message = "; ".join(outcome.reasons) or "The document needs a person to check it."
        raise error(422, "needs_review", message, record=outcome.record, summary=summary)
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


def _file_type(data: bytes) -> tuple[str, str]:
    """The pipeline only ever outputs PNG or PDF."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data.startswith(b"%PDF-"):
        return "pdf", "application/pdf"
    raise error(400, "invalid_request", "The file is not a redacted copy made by this service.")


def _issued_at(record: dict[str, Any]) -> datetime:
    try:
        issued = datetime.fromisoformat(str(record.get("issued_at")).replace("Z", "+00:00"))
    except ValueError:
        raise error(400, "invalid_request", "The record has no valid issued_at.") from None
    return issued if issued.tzinfo else issued.replace(tzinfo=timezone.utc)


def check_sendable(record: dict[str, Any], data: bytes, jwks: dict[str, Any], window: timedelta) -> Outcome:
    """Only a copy this service made and signed, recently, with status redacted, may be sent."""
    from redactor.pipeline import Outcome  # imported here: the module pulls in the whole pipeline

    result = verify_record(record, jwks, data)
    if not result.valid:
        raise error(400, "invalid_record", f"This copy cannot be sent: {result.reason}.")
    if record.get("status") != "redacted":
        raise error(400, "invalid_record", "Only a redacted copy can be sent.")
    age = datetime.now(timezone.utc) - _issued_at(record)
    if age > window:
        raise error(410, "expired", "This result is too old to send; check the document again.")
    extension, media_type = _file_type(data)
    return Outcome(
        status="redacted",
        reasons=list(record.get("reasons") or []),
        record=record,
        output=data,
        extension=extension,
        media_type=media_type,
    )


def _store_once(services: Services, outcome: Outcome, reference: str) -> bool:
    """Store the copy unless this record was stored before; True when stored now."""
    if services.db.get_redaction(str(outcome.record.get("record_id"))) is not None:
        return False
    try:
        store_redaction(services, outcome, reference)
    except IntegrityError:  # a second click raced the first one: the first one stores it
        return False
    return True


@router.post("/send", dependencies=[Depends(selfcheck_limit)])
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
    try:
        record = json.loads(raw_record)
    except ValueError:
        raise error(400, "invalid_request", "The record is not JSON.") from None
    if not isinstance(record, dict):
        raise error(400, "invalid_request", "The record is not a JSON object.")
    jwks = await run_in_threadpool(services.keys.jwks)
    window = timedelta(minutes=extra.selfcheck_send_window_minutes)
    outcome = check_sendable(record, data, jwks, window)
    stored = await run_in_threadpool(_store_once, services, outcome, extra.selfcheck_send_reference)
    request.state.outcome = "sent" if stored else "already_sent"
    return {"reference": record["record_id"], "stored": stored}
