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

from redactor import __version__
from redactor.mrz import yymmdd_to_date

# RFC 9864 names the algorithm after the curve; "EdDSA" is its deprecated alias.
ALG = "Ed25519"


def canonical_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class KeyStore:
    """Ed25519 signing keys in a directory: `current.jwk` signs, every `*.jwk` verifies.

    Rotation (`rotate`) renames the current key to `<kid>.jwk`, so older records still verify
    and the old public key stays listed in the JWKS.
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

    def rotate(self) -> OKPKey:
        old = self.signing_key()
        self._current_path().rename(self.key_dir / f"{old.kid}.jwk")
        return self._create()

    def public_keys(self) -> list[dict[str, Any]]:
        self.signing_key()  # make sure one exists
        keys = []
        for path in sorted(self.key_dir.glob("*.jwk")):
            key = self._load(path)
            keys.append(key.as_dict(private=False))
        return keys

    def jwks(self) -> dict[str, Any]:
        return {"keys": self.public_keys()}

    def sign(self, record: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of `record` with a `signature` member over all its other members."""
        body = {k: v for k, v in record.items() if k != "signature"}
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


def verify_record(
    record: dict[str, Any], jwks: dict[str, Any], redacted_file: bytes | None = None
) -> Verification:
    """Check the signature (and, when given, that the file is the one the record describes)."""
    token = record.get("signature")
    if not isinstance(token, str):
        return Verification(False, "the record has no signature")
    try:
        keyset = KeySet.import_key_set(jwks)
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        obj = jws.deserialize_compact(token, keyset, algorithms=[ALG])
    except (JoseError, ValueError, IndexError) as exc:
        return Verification(False, f"the signature is not valid ({exc.__class__.__name__})")
    if not isinstance(header, dict) or header.get("alg") != ALG:
        return Verification(False, "the signature uses an unexpected algorithm")
    body = {k: v for k, v in record.items() if k != "signature"}
    if obj.payload != canonical_json(body):
        return Verification(False, "the record was changed after it was signed")
    if redacted_file is not None and sha256_hex(redacted_file) != record.get("redacted_sha256"):
        return Verification(False, "the file is not the redacted copy this record describes")
    return Verification(True, "signature valid" + (" and file matches" if redacted_file is not None else ""))


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _document_summary(findings: list) -> dict[str, Any]:  # list[PageFindings]
    mrz = next((f.mrz for f in findings if f.mrz is not None), None)
    text = " ".join(l.text for f in findings for l in f.upright.all_lines).lower()
    if mrz is None:
        kind = "driving_licence" if ("rijbewijs" in text or "driving licence" in text) else "unknown"
        return {"type": kind, "issuing_state": None, "mrz_valid": None, "mrz_checks": None, "expiry_date": None,
                "expired": None, "surname": None, "given_names": None, "birth_date": None, "document_number_masked": None}
    kind = {"P": "passport", "I": "identity_card", "A": "identity_card", "C": "identity_card", "V": "visa"}.get(
        mrz.document_code[:1], "travel_document"
    )
    expiry = yymmdd_to_date(mrz.expiry_date, future=True)
    birth = yymmdd_to_date(mrz.birth_date, future=False)
    number = mrz.document_number
    return {
        "type": kind,
        "mrz_format": mrz.format,
        "issuing_state": mrz.issuing_state,
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
    record: dict[str, Any] = {
        "record_id": str(uuid.uuid4()),
        "issued_at": utc_now().isoformat().replace("+00:00", "Z"),
        "status": status,
        "reasons": reasons,
        "document": _document_summary(findings) if findings else None,
        "pages": len(findings) if findings else None,
        "redactions": [
            {"kind": r.kind, "page": r.page, "box": [int(v) for v in r.box]} for r in (regions or [])
        ],
        "redacted_sha256": sha256_hex(output) if output is not None else None,
        "engine": {
            "name": "id-redactor",
            "version": __version__,
            "ocr": getattr(getattr(engines, "ocr", None), "name", None),
            "faces": getattr(getattr(engines, "faces", None), "name", None),
        },
    }
    return record
