"""Originals waiting for review, encrypted at rest with AES-256-GCM.

The key is `review.key` in REDACTOR_KEY_DIR (32 random bytes, created 0600 on first use, next
to the signing keys and never in the data directory or the object store). A blob is
`RV1 | nonce (12 bytes) | ciphertext+tag`, sealed with the item's id as associated data: a
blob copied under another item's id does not open. Methods are blocking: call them from a
thread. Deleting the key makes every waiting original unreadable at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.storage import BlobStore

MAGIC = b"RV1"
KEY_FILE = "review.key"


class SealError(Exception):
    """A sealed original could not be opened (wrong key, damaged or swapped blob)."""


def _review_key(key_dir: Path) -> bytes:
    path = Path(key_dir) / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:  # O_EXCL: of two processes starting at once, one writes the key, the other reads it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _review_key(key_dir)
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
    if len(key) != 32:
        raise SealError("the review key file is not a 256-bit key")
    return key


class SealedStore:
    def __init__(self, blobs: BlobStore, key_dir: Path) -> None:
        self.blobs = blobs
        self.key_dir = Path(key_dir)

    def _aead(self) -> AESGCM:
        return AESGCM(_review_key(self.key_dir))

    def put(self, item_id: str, data: bytes) -> str:
        """Seal and store `data`; returns the blob key."""
        nonce = secrets.token_bytes(12)
        sealed = MAGIC + nonce + self._aead().encrypt(nonce, data, item_id.encode())
        blob_key = f"{item_id}.sealed"
        self.blobs.put(blob_key, sealed, "application/octet-stream")
        return blob_key

    def get(self, item_id: str, blob_key: str) -> bytes | None:
        sealed = self.blobs.get(blob_key)
        if sealed is None:
            return None
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 12 + 16:
            raise SealError("not a sealed original")
        nonce, body = sealed[len(MAGIC) : len(MAGIC) + 12], sealed[len(MAGIC) + 12 :]
        try:
            return self._aead().decrypt(nonce, body, item_id.encode())
        except Exception:  # cryptography's InvalidTag: wrong key, damaged or swapped blob
            raise SealError("the sealed original does not open with this key") from None

    def delete(self, blob_key: str) -> None:
        self.blobs.delete(blob_key)

    def keys(self) -> list[str]:
        return self.blobs.keys()
