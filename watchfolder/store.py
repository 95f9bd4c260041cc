"""On-disk building blocks of the watched folder: directories, watcher ownership, claims,
output-name reservations, manifests and no-clobber moves.

The protocol that ties them together is described at the top of `watchfolder.watch`.
Nothing in here logs: callers decide what is safe to log (never a file name).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from redactor.filenames import output_stem, record_name, redacted_name
from redactor.fsutil import atomic_write, fsync_dir

# Directories that hold originals (unredacted scans) are private to the service user.
PRIVATE_MODE = 0o700
# Output file modes: redacted copies may be shared with colleagues, originals may not.
DONE_FILE_MODE = 0o640
PRIVATE_FILE_MODE = 0o600

# Copy tools write under these names and rename when complete: never pick them up.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", ".swp")
# Output stems are cut to this many bytes, so "STEM-9999.redacted.png" and atomic_write's
# ".NAME.xxxxxxxx.part" stay under the usual 255-byte name limit.
MAX_STEM_BYTES = 150
# An empty reservation this old is a crash leftover, not one being written right now.
LEFTOVER_AGE_SECONDS = 60.0

MANIFEST = "manifest.json"
NAMES_DIR = "names"


class ConfigError(Exception):
    """The directories cannot be used as configured; the message is meant for the operator."""


class NameTaken(Exception):
    """A destination name appeared after it was reserved (someone put a file there by hand)."""


class NotRegularFile(Exception):
    """The claimed entry is a symlink, FIFO, directory or device, not a document."""


@dataclass(frozen=True)
class WatchDirs:
    inbox: Path
    processing: Path
    done: Path
    review: Path
    failed: Path

    @classmethod
    def under(cls, root: Path | None, **overrides: Path | None) -> "WatchDirs":
        paths: dict[str, Path] = {}
        for name in ("inbox", "processing", "done", "review", "failed"):
            chosen = overrides.get(name)
            if chosen is None:
                if root is None:
                    raise ConfigError(f"no directory for {name}/: give --root or --{name}")
                chosen = Path(root) / name
            paths[name] = Path(chosen).absolute()
        return cls(**paths)

    @property
    def names(self) -> Path:
        return self.processing / NAMES_DIR

    def root(self) -> str:
        """The folder that holds the five directories (their common parent), for the log."""
        return os.path.commonpath([self.inbox, self.processing, self.done, self.review, self.failed])

    def prepare(self) -> None:
        """Create the directories, make the private ones 0700, and check renames can be atomic."""
        try:
            self.inbox.mkdir(parents=True, exist_ok=True)
            self.done.mkdir(parents=True, exist_ok=True)
            for private in (self.processing, self.review, self.failed, self.names):
                private.mkdir(parents=True, exist_ok=True, mode=PRIVATE_MODE)
                os.chmod(private, PRIVATE_MODE)
        except OSError as exc:
            raise ConfigError(f"cannot prepare the watched directories: {exc.strerror or exc}") from exc
        # Claims and moves of originals are rename()s, which only are atomic within one filesystem.
        devices = {p: os.stat(p).st_dev for p in (self.inbox, self.processing, self.review, self.failed)}
        if len(set(devices.values())) > 1:
            raise ConfigError("inbox/, processing/, review/ and failed/ must be on the same filesystem")


def split_name(name: str) -> tuple[str, str]:
    """'scan.jpg' -> ('scan', '.jpg'); 'README' -> ('README', '')."""
    stem = output_stem(name)
    return stem, name[len(stem):]


def base_stem(name: str) -> tuple[str, str]:
    """The stem the outputs are named after, and the original's extension."""
    stem, ext = split_name(name)
    raw = os.fsencode(stem)[:MAX_STEM_BYTES]
    stem = os.fsdecode(raw) or "document"
    # An original called 'x.reason.txt' would otherwise be moved onto the note of a file called 'x'.
    if ext.casefold() == ".txt" and stem.casefold().endswith((".reason", ".error")):
        stem += "-1"
    return stem, ext


def is_candidate_name(name: str) -> bool:
    if name.startswith((".", "~$")):
        return False
    return not name.casefold().endswith(TEMP_SUFFIXES)


@dataclass(frozen=True)
class Outputs:
    """Every name one stem can produce; all of them belong to the claim that reserved the stem."""

    stem: str
    ext: str  # the original's extension, with the dot
    dirs: WatchDirs

    def redacted(self, extension: str) -> Path:
        return self.dirs.done / redacted_name(self.stem, extension)

    @property
    def record(self) -> Path:
        return self.dirs.done / record_name(self.stem)

    @property
    def reason(self) -> Path:
        return self.dirs.review / f"{self.stem}.reason.txt"

    @property
    def error(self) -> Path:
        return self.dirs.failed / f"{self.stem}.error.txt"

    def original_in(self, directory: Path) -> Path:
        return directory / f"{self.stem}{self.ext}"

    def written(self) -> list[Path]:
        """Files this stem's claim writes itself (as opposed to the original it moves)."""
        return [self.redacted("png"), self.redacted("pdf"), self.record, self.reason, self.error]

    def moved_originals(self) -> list[Path]:
        return [self.original_in(self.dirs.review), self.original_in(self.dirs.failed)]

    def all(self) -> list[Path]:
        return self.written() + self.moved_originals()

    def remove_temp_files(self) -> None:
        """Delete atomic_write leftovers ('.NAME.xxxx.part') of this stem's names after a crash."""
        prefixes_by_dir: dict[Path, list[str]] = {}
        for path in self.all():
            prefixes_by_dir.setdefault(path.parent, []).append(f".{path.name}.")
        for directory, prefixes in prefixes_by_dir.items():
            for entry in os.scandir(directory):
                if entry.name.endswith(".part") and entry.name.startswith(tuple(prefixes)):
                    Path(entry.path).unlink(missing_ok=True)


# --- ownership -------------------------------------------------------------------------------


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno == errno.ENOLCK:
            raise ConfigError("the processing directory does not support file locks (NFS mounted with nolock?)")
        raise


@dataclass
class Owner:
    """One watcher process: it holds an exclusive flock on processing/<wid>.lock for its whole life
    and keeps its claims in processing/<wid>/. The kernel drops the lock when the process dies."""

    wid: str
    dir: Path
    lock_path: Path
    fd: int

    @classmethod
    def acquire(cls, processing: Path) -> "Owner":
        for _ in range(10):
            wid = f"w-{uuid.uuid4().hex[:16]}"
            final = processing / f"{wid}.lock"
            # Lock under a hidden name first, so a visible lock file is never unlocked while alive.
            tmp = processing / f".{wid}.lock.tmp"
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            if not _try_lock(fd):  # a recovering watcher grabbed it mid-setup; start over
                os.close(fd)
                tmp.unlink(missing_ok=True)
                continue
            try:
                os.rename(tmp, final)
            except FileNotFoundError:
                os.close(fd)
                continue
            own = processing / wid
            own.mkdir(mode=PRIVATE_MODE)
            fsync_dir(processing)
            return cls(wid=wid, dir=own, lock_path=final, fd=fd)
        raise ConfigError("could not take a watcher lock in the processing directory")

    def close(self) -> None:
        """Drop the lock without tidying up, exactly as if the process had died."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def release(self) -> None:
        """Clean exit: remove our directory and lock if no claim is left, then unlock."""
        try:
            self.dir.rmdir()
            self.lock_path.unlink()
        except OSError:
            pass  # claims left behind: the next watcher adopts them through the now-free lock
        self.close()


def adopt_abandoned(owner: Owner) -> int:
    """Move the claims of dead watchers into `owner`'s directory; returns how many were adopted."""
    processing = owner.dir.parent
    adopted = 0
    for entry in list(os.scandir(processing)):
        name = entry.name
        if name.startswith(".w-") and name.endswith(".lock.tmp"):
            _remove_stale_tmp_lock(Path(entry.path))
            continue
        if not (name.startswith("w-") and name.endswith(".lock")) or name == owner.lock_path.name:
            continue
        lock_path = Path(entry.path)
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            if not _try_lock(fd):
                continue  # its watcher is alive
            if not _same_file(fd, lock_path):
                continue  # someone else finished the adoption meanwhile
            dead_dir = processing / name[: -len(".lock")]
            if dead_dir.is_dir():
                adopted += _move_claims(dead_dir, owner.dir)
                fsync_dir(owner.dir)
                dead_dir.rmdir()
            lock_path.unlink()
            fsync_dir(processing)
        finally:
            os.close(fd)
    # A watcher directory without a lock file has no owner by construction (lock first, dir second).
    for entry in list(os.scandir(processing)):
        if entry.name.startswith("w-") and entry.is_dir() and not (processing / f"{entry.name}.lock").exists():
            if entry.name == owner.wid:
                continue
            adopted += _move_claims(Path(entry.path), owner.dir)
            try:
                Path(entry.path).rmdir()
            except OSError:
                pass
    return adopted


def _move_claims(source: Path, dest: Path) -> int:
    """Rename every claim in `source` into `dest`, oldest first; returns how many were moved."""
    moved = 0
    for claim in sorted(os.scandir(source), key=lambda e: e.name):
        os.rename(claim.path, dest / claim.name)
        moved += 1
    return moved


def _remove_stale_tmp_lock(path: Path) -> None:
    # Lockable means abandoned, or an owner between create and flock: its flock or rename then
    # fails and it simply starts over with a new id.
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        if _try_lock(fd):
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# --- claims ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """processing/<wid>/<claim id>/: `in/<original name>`, later `manifest.json`."""

    dir: Path

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def in_dir(self) -> Path:
        return self.dir / "in"

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def original(self) -> Path | None:
        try:
            entries = sorted(os.scandir(self.in_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return None
        return Path(entries[0].path) if entries else None


def new_claim_id() -> str:
    # Starts with the time, so recovery handles the oldest claim first.
    return f"{time.time_ns():016x}-{uuid.uuid4().hex[:8]}"


def claim_file(path: Path, owner: Owner) -> Claim | None:
    """Atomically take `path` out of the inbox. None when another watcher was faster."""
    claim = Claim(owner.dir / new_claim_id())
    claim.dir.mkdir(mode=PRIVATE_MODE)
    claim.in_dir.mkdir(mode=PRIVATE_MODE)
    try:
        os.rename(path, claim.in_dir / path.name)
    except OSError as exc:
        claim.in_dir.rmdir()
        claim.dir.rmdir()
        if exc.errno == errno.ENOENT:
            return None
        raise
    fsync_dir(claim.in_dir)
    fsync_dir(path.parent)
    return claim


def list_claims(owner: Owner) -> list[Claim]:
    return [Claim(Path(e.path)) for e in sorted(os.scandir(owner.dir), key=lambda e: e.name) if e.is_dir()]


@dataclass
class Manifest:
    """Written before any output: fixes the output names, counts the attempts."""

    name: str  # the original file name as dropped
    stem: str
    ext: str
    attempts: int = 0

    def save(self, claim: Claim) -> None:
        atomic_write(claim.manifest_path, json.dumps(asdict(self)).encode(), PRIVATE_FILE_MODE)

    @classmethod
    def load(cls, claim: Claim) -> "Manifest | None":
        try:
            data = json.loads(claim.manifest_path.read_bytes())
            return cls(name=data["name"], stem=data["stem"], ext=data["ext"], attempts=int(data["attempts"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # cannot happen with atomic_write; treat as "no name chosen yet"


def remove_claim_dir(claim: Claim) -> None:
    """Delete an emptied claim. rmdir(in/) fails if an original is still there, which keeps it safe."""
    try:
        claim.in_dir.rmdir()
    except FileNotFoundError:
        pass
    for entry in os.scandir(claim.dir):
        if entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink()
    claim.dir.rmdir()
    fsync_dir(claim.dir.parent)


# --- output names ----------------------------------------------------------------------------


def _reservation_path(dirs: WatchDirs, stem: str) -> Path:
    # casefold: on a case-insensitive share 'Scan' and 'scan' are one name.
    return dirs.names / stem.casefold()


def _create_reservation(path: Path, claim: Claim) -> bool:
    """Create `path` holding the claim id, atomically and only if it does not exist yet."""
    tmp = path.parent / f".tmp-{claim.id}"
    tmp.write_text(claim.id)
    try:
        # link() publishes a complete file and refuses to replace one: no half-written reservation.
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        tmp.unlink(missing_ok=True)
    # No hard links on this share: O_EXCL create; a crash before the write leaves an empty file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(claim.id)
    return True


def _any_exists_ignoring_case(paths: list[Path]) -> bool:
    """True when some entry's name equals one of `paths` up to case: on an SMB share 'Scan.record.json'
    and 'scan.record.json' are one file, and staff must not get both from a local disk either."""
    wanted: dict[Path, set[str]] = {}
    for path in paths:
        wanted.setdefault(path.parent, set()).add(path.name.casefold())
    for directory, names in wanted.items():
        try:
            with os.scandir(directory) as entries:
                if any(entry.name.casefold() in names for entry in entries):
                    return True
        except FileNotFoundError:
            continue
    return False


def reserve_stem(dirs: WatchDirs, claim: Claim, name: str) -> tuple[str, str]:
    """Pick the first free stem among 'scan', 'scan-2', 'scan-3', ... and reserve it for `claim`.

    A reservation is a file processing/names/<stem> created exclusively, so two watchers never
    pick the same stem; a stem is free when additionally none of its output names exists yet.
    A claim drops its reservation only after its outputs exist, so a used stem is seen as taken.
    """
    base, ext = base_stem(name)
    for n in range(1, 100_000):
        stem = base if n == 1 else f"{base}-{n}"
        path = _reservation_path(dirs, stem)
        if not _create_reservation(path, claim):
            continue
        if _any_exists_ignoring_case(Outputs(stem, ext, dirs).all()):
            path.unlink()
            continue
        fsync_dir(dirs.names)
        return stem, ext
    raise NameTaken("no free output name")


def release_reservations(dirs: WatchDirs, claim: Claim, keep: str | None = None) -> None:
    """Remove every reservation of `claim` (except the stem `keep`), e.g. left by a crash between
    reserving a stem and writing the manifest."""
    keep_path = _reservation_path(dirs, keep) if keep is not None else None
    now = time.time()
    removed = False
    for entry in list(os.scandir(dirs.names)):
        path = Path(entry.path)
        if path == keep_path:
            continue
        if entry.name == f".tmp-{claim.id}":
            path.unlink(missing_ok=True)
            removed = True
            continue
        try:
            owner_id = path.read_text()
            age = now - entry.stat().st_mtime
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        # Empty (only on shares without hard links): a crash between create and write.
        if owner_id == claim.id or (owner_id == "" and age > LEFTOVER_AGE_SECONDS):
            path.unlink(missing_ok=True)
            removed = True
    if removed:  # nothing unlinked: no directory change to make durable
        fsync_dir(dirs.names)


# --- moving originals ------------------------------------------------------------------------


def is_link_of(candidate: Path, original: Path) -> bool:
    """True when `candidate` is a hard link to `original` (a move interrupted before its unlink)."""
    try:
        sc, so = os.lstat(candidate), os.lstat(original)
    except FileNotFoundError:
        return False
    return (sc.st_dev, sc.st_ino) == (so.st_dev, so.st_ino)


def move_no_clobber(src: Path, dst: Path) -> None:
    """Move `src` to `dst` without ever replacing an existing `dst`, durably.

    link()+unlink() refuses to overwrite; a crash between them leaves two names of one inode,
    which a re-run recognises. Where hard links are unsupported (some SMB shares) fall back to
    a checked rename().
    """
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        if not is_link_of(dst, src):
            raise NameTaken(str(dst.name)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        if os.path.lexists(dst):
            raise NameTaken(str(dst.name)) from None
        os.rename(src, dst)
        fsync_dir(dst.parent)
        fsync_dir(src.parent)
        return
    fsync_dir(dst.parent)
    os.unlink(src)
    fsync_dir(src.parent)


def read_original(path: Path, limit: int) -> bytes:
    """Read at most `limit` bytes of a regular file, never following a symlink nor blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise NotRegularFile() from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile()
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
