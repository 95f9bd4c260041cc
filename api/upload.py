"""Reads a multipart upload into memory, with hard limits, without ever touching the disk.

Starlette's own form parser spools files over 1 MB to a temporary file on disk; an identity
document must not land there, and an oversized upload should be refused while it streams in.
The requester's file name is ignored: it is never read, stored or logged.

Uploads being received hold a slot: keyed intake has its own slots, which the key-less
endpoints (self-check, send, verify) cannot take, and one client address may hold only a few
of the key-less ones. `BodyTimeout` gives every request body, whatever the endpoint, a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 8


def megabytes(limit: int) -> str:
    """20971520 -> '20 MB', 65536 -> '64 KB': limits are said as the docs say them (binary units)."""
    if limit < 1024 * 1024:
        return f"{limit / 1024:.3g} KB"
    return f"{limit / (1024 * 1024):.3g} MB"


class UploadError(Exception):
    """The upload cannot be accepted; maps directly to an HTTP error response."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class Form:
    """The parts of a multipart body by field name (the first part wins when a name repeats)."""

    parts: dict[str, bytes] = field(default_factory=dict)

    def text(self, name: str, max_chars: int = 200) -> str | None:
        raw = self.parts.get(name)
        if raw is None:
            return None
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UploadError(400, "invalid_request", f"The field '{name}' is not UTF-8 text.") from None
        if len(value) > max_chars:
            raise UploadError(400, "invalid_request", f"The field '{name}' is longer than {max_chars} characters.")
        return value or None


class UploadGate:
    """Bounds how many uploads are being received at once, so memory stays bounded and one
    key-less client cannot crowd out the keyed intake."""

    def __init__(self, keyed_capacity: int, public_capacity: int, per_client: int) -> None:
        self.capacity = {True: keyed_capacity, False: public_capacity}
        self.per_client = per_client
        self.active = {True: 0, False: 0}
        self._by_client: Counter[str] = Counter()

    @contextmanager
    def slot(self, client: str, *, keyed: bool = False) -> Iterator[None]:
        """`client`: the caller's address; `keyed`: the caller presented a valid API key."""
        if not keyed and self._by_client[client] >= self.per_client:
            raise UploadError(429, "rate_limited", "Too many uploads from this client at once.", retry_after=5)
        if self.active[keyed] >= self.capacity[keyed]:
            raise UploadError(503, "busy", "Too many uploads in progress; try again shortly.", retry_after=2)
        self.active[keyed] += 1
        if not keyed:
            self._by_client[client] += 1
        try:
            yield
        finally:
            self.active[keyed] -= 1
            if not keyed:
                self._by_client[client] -= 1
                if self._by_client[client] <= 0:
                    del self._by_client[client]


class BodyTimeout:
    """ASGI middleware: a request's whole body must arrive within `timeout_s` of its headers.

    Without it a handler that reads a body (a JSON record to verify, say) waits as long as the
    client trickles bytes. Past the deadline the read raises UploadError (408) in the handler."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body only a disconnect can come: no deadline for that
                return await receive()
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    message = await receive()
            except TimeoutError:
                raise UploadError(408, "upload_timeout", "The request body took too long.") from None
            body_done = message["type"] == "http.request" and not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


class _Collector:
    def __init__(self, file_fields: dict[str, int]) -> None:
        self.file_fields = file_fields
        self.form = Form()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._data = bytearray()
        self._count = 0

    def _limit(self) -> int:
        return self.file_fields.get(self._name or "", MAX_FIELD_BYTES)

    def on_part_begin(self) -> None:
        self._count += 1
        if self._count > MAX_PARTS:
            raise UploadError(400, "invalid_request", "Too many parts in the form.")
        self._headers, self._name, self._data = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        self._name = name.decode("latin-1") if name else None
        if b"filename" in params and self._name not in self.file_fields:
            # A file under another field name (`-F document=@scan.jpg`): say which field is expected.
            expected = " and ".join(f"'{f}'" for f in self.file_fields)
            message = f"The form has no 'file' part: send files only as {expected}, not as '{self._name}'."
            raise UploadError(400, "missing_file", message)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if len(self._data) + (end - start) > self._limit():
            if self._name in self.file_fields:
                what = "file" if self._name == "file" else f"'{self._name}' part"
                raise UploadError(413, "too_large", f"The {what} is larger than {megabytes(self._limit())}.")
            raise UploadError(400, "invalid_request", f"The field '{self._name}' is too long.")
        self._data += data[start:end]

    def on_part_end(self) -> None:
        if self._name and self._name not in self.form.parts:
            self.form.parts[self._name] = bytes(self._data)
        self._data = bytearray()


async def read_form(request: Request, *, file_fields: dict[str, int], timeout_s: float) -> Form:
    """Parse a multipart/form-data body. `file_fields` maps field name -> max bytes for that part."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(400, "invalid_request", "Send the document as multipart/form-data.")
    max_body = sum(file_fields.values()) + MAX_PARTS * MAX_FIELD_BYTES
    too_large = f"The upload is larger than the {megabytes(max(file_fields.values()))} limit for a file."
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise UploadError(413, "too_large", too_large)

    collector = _Collector(file_fields)
    callbacks = {
        "on_part_begin": collector.on_part_begin,
        "on_part_data": collector.on_part_data,
        "on_part_end": collector.on_part_end,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
    }
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
        received = 0
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_body:  # counted here: the parser's own limit truncates silently
                    raise UploadError(413, "too_large", too_large)
                parser.write(chunk)
        parser.finalize()
    except TimeoutError:
        raise UploadError(408, "upload_timeout", "The upload took too long.") from None
    except ClientDisconnect:
        raise UploadError(400, "invalid_request", "The client went away during the upload.") from None
    except FormParserError:
        raise UploadError(400, "invalid_request", "The multipart body is malformed.") from None
    except ValueError:
        raise UploadError(400, "invalid_request", "The multipart body is malformed.") from None
    return collector.form
