"""The verification record: what was checked and redacted, signed with Ed25519 (JWS).

A record is a JSON object; its `signature` member is a compact JWS whose payload is
the canonical JSON of every other member. Verifying means: the JWS signature is valid
under one of our public keys, and its payload equals the record as shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from redactor import __version__
from redactor.fsutil import atomic_write
from redactor.documents import issuing_state
from redactor.mrz import yymmdd_to_date

# RFC 9864 names the algorithm after the curve; "EdDSA" is its deprecated alias.
ALG = "Ed25519"
# A signed record is a few kilobytes; anything handed back to be checked may be at most this.
MAX_RECORD_BYTES = 256 * 1024


def canonical_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class KeyStore:
    """Ed25519 signing keys in a directory: `current.jwk` signs; `<kid>.jwk` are retired keys.

    Rotation (`rotate`) keeps only the public part of the old key, with its retirement time
    (`retired_at`, an extra JWK member verifiers ignore unless they know it): older records
    still verify, and nobody, not even someone who later reads this directory, can sign with it.
    """

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = Path(key_dir)

    def _current_path(self) -> Path:
        return self.key_dir / "current.jwk"

    def _load(self, path: Path) -> OKPKey:
        return OKPKey.import_key(json.loads(path.read_text()))

    def _create(self) -> OKPKey:
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = OKPKey.generate_key("Ed25519", parameters={"use": "sig", "alg": ALG}, private=True)
        key.ensure_kid()
        data = json.dumps(key.as_dict(private=True)).encode()
        path = self._current_path()
        # O_EXCL: when two processes start at once, one creates the key and the other reads it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._load(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return key

    def signing_key(self) -> OKPKey:
        path = self._current_path()
        return self._load(path) if path.exists() else self._create()

    def _retire(self, public: dict[str, Any], retired_at: datetime) -> None:
        """Write a retired key's public part (never `d`) with its retirement time."""
        entry = {k: v for k, v in public.items() if k != "d"}
        entry["retired_at"] = record_time(retired_at)
        atomic_write(self.key_dir / f"{entry['kid']}.jwk", json.dumps(entry).encode(), mode=0o644)

    def _retired_paths(self) -> list[Path]:
        return sorted(p for p in self.key_dir.glob("*.jwk") if p.name != "current.jwk")

    def _drop_private_parts(self) -> None:
        """Older versions kept retired keys whole: keep only their public part, retired when renamed."""
        for path in self._retired_paths():
            data = json.loads(path.read_text())
            if "d" in data:
                self._retire(data, datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))

    def rotate(self) -> OKPKey:
        old = self.signing_key()
        self._retire(old.as_dict(private=False), utc_now())
        self._current_path().unlink()
        return self._create()

    def current_jwks(self) -> dict[str, Any]:
        """Only the key that signs now: what a record must be signed with to be accepted as new."""
        return {"keys": [self.signing_key().as_dict(private=False)]}

    def public_keys(self) -> list[dict[str, Any]]:
        current = self.signing_key().as_dict(private=False)  # creates one when there is none
        self._drop_private_parts()
        return [current] + [json.loads(p.read_text()) for p in self._retired_paths()]

    def jwks(self) -> dict[str, Any]:
        return {"keys": self.public_keys()}

    def sign(self, record: dict[str, Any] | "Record") -> dict[str, Any]:
        """Return a copy of `record` with a `signature` member over all its other members."""
        data = record.to_dict() if isinstance(record, Record) else record
        body = {k: v for k, v in data.items() if k != "signature"}
        key = self.signing_key()
        token = jws.serialize_compact(
            {"alg": ALG, "kid": key.kid, "typ": "id-redaction-record+jws"},
            canonical_json(body),
            key,
            algorithms=[ALG],
        )
        return {**body, "signature": token}


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str


def _signed_header(token: str) -> dict[str, Any] | None:
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    except (ValueError, IndexError):
        return None
    return header if isinstance(header, dict) else None


def _retired_at(jwks: dict[str, Any], kid: Any) -> datetime | None:
    for key in jwks.get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid and "retired_at" in key:
            return parse_time(key["retired_at"]) or datetime.min.replace(tzinfo=timezone.utc)
    return None


def verify_record(
    record: dict[str, Any], jwks: dict[str, Any], redacted_file: bytes | None = None
) -> Verification:
    """Check the signature (and, when given, that the file is the one the record describes).

    A retired key (one with `retired_at` in the JWKS) vouches only for records issued before
    its retirement. Reasons are plain words: never an exception's class or message.
    """
    token = record.get("signature")
    if not isinstance(token, str):
        return Verification(False, "the record has no signature")
    header = _signed_header(token)
    if header is None:
        return Verification(False, "the signature is not valid")
    if header.get("alg") != ALG:
        return Verification(False, "the signature uses an unexpected algorithm")
    try:
        keyset = KeySet.import_key_set(jwks)
        obj = jws.deserialize_compact(token, keyset, algorithms=[ALG])
    except (JoseError, ValueError, TypeError, KeyError, IndexError):
        return Verification(False, "the signature is not valid")
    body = {k: v for k, v in record.items() if k != "signature"}
    try:
        if obj.payload != canonical_json(body):
            return Verification(False, "the record was changed after it was signed")
    except (ValueError, TypeError, RecursionError):
        return Verification(False, "the record was changed after it was signed")
    retired = _retired_at(jwks, header.get("kid"))
    if retired is not None:
        issued = parse_time(record.get("issued_at"))
        if issued is None or issued > retired:
            return Verification(False, "the record is dated after the key that signed it was retired")
    if redacted_file is not None and sha256_hex(redacted_file) != record.get("redacted_sha256"):
        return Verification(False, "the file is not the redacted copy this record describes")
    return Verification(True, "signature valid" + (" and file matches" if redacted_file is not None else ""))


def utc_now() -> datetime:
    """The one clock of the product: timezone-aware UTC."""
    return datetime.now(timezone.utc)


def record_time(moment: datetime) -> str:
    """A time as records write it: UTC, whole seconds, `Z` (e.g. 2026-11-26T12:53:34Z)."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A record time back as an aware datetime; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# The record as a type. Open to extra members (newer fields, other doors' additions), so a
# record read and written back keeps every member it had.


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RecordRedaction(_Open):
    kind: str
    page: int
    box: list[int]


class DocumentSummary(_Open):
    type: str = "unknown"
    # Which row of models/documents.json the pages matched, in words and as a key.
    kind: str | None = None
    title: str | None = None
    generation: str | None = None
    sides: list[str] | None = None
    mrz_format: str | None = None  # present only when an MRZ was read
    issuing_state: str | None = None
    mrz_valid: bool | None = None
    mrz_checks: dict[str, bool] | None = None
    expiry_date: str | None = None
    expired: bool | None = None
    surname: str | None = None
    given_names: str | None = None
    birth_date: str | None = None
    document_number_masked: str | None = None


class EngineInfo(_Open):
    name: str = "id-redactor"
    version: str | None = None
    ocr: str | None = None
    faces: str | None = None


class ReviewBlock(_Open):
    """Present when a person finished the document (redactor.core.Review.block)."""

    by: str  # "staff" (review station) or "requester" (self-check page)
    review_id: str | None = None  # the review station's item (staff only)
    reviewer_key_id: str | None = None
    at: str | None = None
    regions_added: int = 0
    regions_dropped: int = 0
    reasons: list[str] = Field(default_factory=list)  # why it needed a person


class RecordError(ValueError):
    """A JSON object that is not a verification record; the message says what is wrong, in words."""


class Record(_Open):
    """The verification record. `to_dict()` is its one serialiser: members that were not given
    (e.g. `signature` before signing) are left out, so the JSON keeps the shape it had."""

    record_id: str
    issued_at: str
    status: str
    reasons: list[str] = Field(default_factory=list)
    document: DocumentSummary | None = None
    pages: int | None = None
    redactions: list[RecordRedaction] = Field(default_factory=list)
    redacted_sha256: str | None = None
    engine: EngineInfo | None = None
    review: ReviewBlock | None = None
    signature: str | None = None

    @classmethod
    def parse(cls, data: Any) -> "Record":
        if not isinstance(data, dict):
            raise RecordError("the record is not a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            where = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "record" for e in exc.errors()}))
            raise RecordError(f"the record has missing or malformed members: {where}") from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def file_bytes(self) -> bytes:
        """The record as written next to a redacted copy: indented UTF-8 JSON and a newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"

    def issued(self) -> datetime | None:
        return parse_time(self.issued_at)

    def kind_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.redactions:
            counts[r.kind] = counts.get(r.kind, 0) + 1
        return counts


def _document_summary(findings: list) -> dict[str, Any]:  # list[PageFindings]
    """What was checked: the document kind the pages matched, and what its MRZ says."""
    ids = [f for f in findings if f.document.is_id] or findings
    main = next((f for f in ids if f.mrz is not None), ids[0])
    doc = main.document
    kind = {
        "type": doc.type,
        "kind": doc.key,
        "title": doc.title,
        "generation": doc.generation,
        "sides": sorted({f.document.side for f in ids if f.document.side}),
    }
    mrz = main.mrz
    if mrz is None:
        state = "NLD" if doc.key.startswith("nl_") else None  # Dutch kinds are known without an MRZ
        return {**kind, "issuing_state": state, "mrz_valid": None, "mrz_checks": None, "expiry_date": None,
                "expired": None, "surname": None, "given_names": None, "birth_date": None, "document_number_masked": None}
    expiry = yymmdd_to_date(mrz.expiry_date, future=True)
    birth = yymmdd_to_date(mrz.birth_date, future=False)
    number = mrz.document_number
    return {
        **kind,
        "mrz_format": mrz.format,
        "issuing_state": issuing_state(mrz),
        "mrz_valid": mrz.valid,
        "mrz_checks": mrz.checks,
        "expiry_date": expiry.isoformat() if expiry else None,
        "expired": (expiry < utc_now().date()) if expiry else None,
        "surname": mrz.surname,
        "given_names": mrz.given_names,
        "birth_date": birth.isoformat() if birth else None,
        # Never the full number: the last three characters are enough to match a case file.
        "document_number_masked": ("*" * max(0, len(number) - 3) + number[-3:]) if number else None,
    }


def build_record(
    *,
    status: str,
    reasons: list[str],
    findings: list | None = None,
    engines: Any = None,
    regions: list | None = None,
    output: bytes | None = None,
) -> dict[str, Any]:
    """The unsigned verification record. It holds no BSN, no image and no full document number."""
    record = Record(
        record_id=str(uuid.uuid4()),
        issued_at=record_time(utc_now()),
        status=status,
        reasons=reasons,
        document=DocumentSummary(**_document_summary(findings)) if findings else None,
        pages=len(findings) if findings else None,
        redactions=[
            RecordRedaction(kind=str(getattr(r.kind, "value", r.kind)), page=r.page, box=[int(v) for v in r.box]) for r in (regions or [])
        ],
        redacted_sha256=sha256_hex(output) if output is not None else None,
        engine=EngineInfo(
            name="id-redactor",
            version=__version__,
            ocr=getattr(getattr(engines, "ocr", None), "name", None),
            faces=getattr(getattr(engines, "faces", None), "name", None),
        ),
    )
    return record.to_dict()
