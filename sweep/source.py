"""Where the originals are: a directory tree or an S3 prefix. Both list, read, stat and delete.

A source is a small frozen description (a path, or a bucket and prefix), so it can be pickled
to the workers (local processes or Ray actors), which read the originals themselves: the
driver only sees names, sizes and times. Nothing in here logs (names can hold a BSN).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Protocol
from urllib.parse import urlparse

CHUNK = 1 << 20


class SourceError(Exception):
    """SOURCE cannot be used; the message is meant for the operator."""


class NotRegularFile(Exception):
    """A symbolic link, FIFO, socket or device: not read, so it cannot block or escape the tree."""


class SourceChanged(Exception):
    """The original is no longer the file that was listed (size or time differ): it is left alone."""


@dataclass(frozen=True)
class SourceFile:
    """One listed original. `path` is relative to the source, '/'-separated; `mtime_ns` is the
    modification time (an S3 object's LastModified) in nanoseconds."""

    path: str
    size: int
    mtime_ns: int
    mirrorable: bool = True  # False: the name cannot be stored or mirrored (see is_safe_relative)


@dataclass(frozen=True)
class Original:
    """What a worker read: at most `limit` bytes, the SHA-256 and size of the whole file."""

    data: bytes
    sha256: str
    size: int
    mtime_ns: int


def is_safe_relative(path: str) -> bool:
    """Can `path` be mirrored under DEST without escaping it? (S3 keys may hold '..' or '//'.)"""
    if not path or path.startswith("/") or "\x00" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _listed(relative: str, size: int, mtime_ns: int) -> SourceFile:
    """A name that is not valid UTF-8 (an old share mounted without a charset) cannot be kept
    in the manifest as it is: it is listed under a printable escaped form, marked unmirrorable."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        escaped = relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return SourceFile(escaped, size, mtime_ns, mirrorable=False)
    return SourceFile(relative, size, mtime_ns)


class Source(Protocol):
    def describe(self) -> str: ...

    def identity(self) -> str: ...

    def list(self) -> Iterator[SourceFile]: ...

    def read(self, path: str, limit: int) -> Original: ...

    def stat(self, path: str) -> tuple[int, int] | None: ...

    def delete(self, path: str, size: int, mtime_ns: int) -> None: ...


def _read_stream(chunks: Iterator[bytes], limit: int) -> tuple[bytes, str, int]:
    """Hash everything, keep the first `limit` bytes (one over the pipeline's limit is enough
    for it to say "too large"), so a 10 GB file costs no memory."""
    digest = hashlib.sha256()
    kept: list[bytes] = []
    room = limit
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if room > 0:
            kept.append(chunk[:room])
            room -= len(kept[-1])
    return b"".join(kept), digest.hexdigest(), size


@dataclass(frozen=True)
class DirSource:
    """A directory tree. Symbolic links are listed but never followed (nor read); `exclude` is
    DEST when it lies inside the tree, so the sweep never sweeps its own outputs."""

    root: Path
    exclude: Path | None = None

    def describe(self) -> str:
        return "directory"

    def identity(self) -> str:
        return str(self.root)

    def _path(self, relative: str) -> Path:
        return self.root.joinpath(*relative.split("/"))

    def list(self) -> Iterator[SourceFile]:
        def fail(exc: OSError) -> None:
            raise exc  # an unreadable folder must not look like an empty one

        for top, dirs, files in os.walk(self.root, onerror=fail):
            here = Path(top)
            dirs[:] = sorted(d for d in dirs if self.exclude is None or here / d != self.exclude)
            for name in sorted(files):
                try:
                    st = os.lstat(here / name)
                except FileNotFoundError:
                    continue  # gone since the folder was read
                relative = (here / name).relative_to(self.root).as_posix()
                yield _listed(relative, st.st_size, st.st_mtime_ns)

    def read(self, path: str, limit: int) -> Original:
        try:
            fd = os.open(self._path(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise NotRegularFile() from None
            raise
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFile()
            data, digest, size = _read_stream(iter(lambda: fh.read(CHUNK), b""), limit)
        return Original(data, digest, size, st.st_mtime_ns)

    def stat(self, path: str) -> tuple[int, int] | None:
        try:
            st = os.lstat(self._path(path))
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime_ns

    def delete(self, path: str, size: int, mtime_ns: int) -> None:
        """Remove the original, durably, but only if it is still the file that was redacted."""
        target = self._path(path)
        if self.stat(path) != (size, mtime_ns):
            raise SourceChanged()
        target.unlink()
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class S3Source:
    """Objects under `s3://bucket/prefix`. Credentials come from each machine's own AWS_*
    settings or instance role (they are never shipped to the workers)."""

    bucket: str
    prefix: str = ""  # "" or ending in "/"
    endpoint_url: str | None = None
    _client: list = field(default_factory=list, compare=False, repr=False)  # lazily made, not pickled

    def __getstate__(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "endpoint_url": self.endpoint_url, "_client": []}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def describe(self) -> str:
        return "s3"

    def identity(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def client(self) -> Any:
        if not self._client:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)
            self._client.append(boto3.client("s3", endpoint_url=self.endpoint_url, config=config))
        return self._client[0]

    def list(self) -> Iterator[SourceFile]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue  # a "folder" placeholder, not a file
                    mtime_ns = int(obj["LastModified"].timestamp()) * 1_000_000_000
                    yield SourceFile(key[len(self.prefix):], int(obj["Size"]), mtime_ns)
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"cannot list {self.identity()}: {_s3_error(exc)}") from None

    def read(self, path: str, limit: int) -> Original:
        response = self.client().get_object(Bucket=self.bucket, Key=self.prefix + path)
        body = response["Body"]
        try:
            data, digest, size = _read_stream(iter(lambda: body.read(CHUNK), b""), limit)
        finally:
            body.close()
        return Original(data, digest, size, int(response["LastModified"].timestamp()) * 1_000_000_000)

    def stat(self, path: str) -> tuple[int, int] | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client().head_object(Bucket=self.bucket, Key=self.prefix + path)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), int(head["LastModified"].timestamp()) * 1_000_000_000

    def delete(self, path: str, size: int, mtime_ns: int) -> None:
        # S3 has no conditional delete on LastModified: check just before (a narrow window).
        if self.stat(path) != (size, mtime_ns):
            raise SourceChanged()
        self.client().delete_object(Bucket=self.bucket, Key=self.prefix + path)


def _s3_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', '?')} {error.get('Message', '')}".strip()
    return exc.__class__.__name__


def open_source(text: str, dest: Path, endpoint_url: str | None = None) -> DirSource | S3Source:
    """SOURCE as given on the command line -> a source, or SourceError saying what is wrong."""
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SourceError("an S3 source needs a bucket: s3://bucket/prefix")
        prefix = parsed.path.strip("/")
        return S3Source(parsed.netloc, prefix + "/" if prefix else "", endpoint_url or _endpoint_from_env())
    if parsed.scheme not in ("", "file"):
        raise SourceError(f"unsupported source {parsed.scheme}://: give a directory or s3://bucket/prefix")
    root = Path(parsed.path if parsed.scheme == "file" else text).absolute()
    if not root.is_dir():
        raise SourceError(f"{root} is not a directory")
    dest = dest.absolute()
    if dest == root or root.is_relative_to(dest):
        raise SourceError("SOURCE must not be DEST or lie inside it")
    return DirSource(root, exclude=dest if dest.is_relative_to(root) else None)


def _endpoint_from_env() -> str | None:
    # boto3 reads these itself, but only on this machine: workers on other nodes get it from here.
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def mirrored(dest: Path, relative: str, suffix: str, under: str | None = None) -> Path:
    """DEST[/_review|/_failed]/<relative path><suffix>: the tree of the source, mirrored."""
    parts = PurePosixPath(relative).parts
    base = dest / under if under else dest
    return base.joinpath(*parts[:-1], parts[-1] + suffix)
