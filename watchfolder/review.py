"""The watched folder's review/ directory: the reason file staff read, the originals waiting
there, and their deletion after REDACTOR_REVIEW_RETENTION_DAYS.

review/STEM.EXT is an original the pipeline would not publish; review/STEM.reason.txt says
why, in Dutch and English, what to do, and when the original is deleted. When `redactor serve`
is given the folder (REDACTOR_REVIEW_WATCH_ROOT), it takes each original into the review
station's encrypted queue and removes it from here; the reason file stays until the item is
published, rejected or purged. Nothing here logs a file name.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from redactor.reasons import explain_all
from watchfolder.store import is_candidate_name, split_name

REASON_SUFFIX = ".reason.txt"


def reason_path(review_dir: Path, original_name: str) -> Path:
    return review_dir / f"{split_name(original_name)[0]}{REASON_SUFFIX}"


def delete_on(set_aside: datetime, retention_days: float) -> datetime:
    return set_aside + timedelta(days=retention_days)


def reason_text(
    name: str, reasons: list[str], record_id: str | None, deleted_at: datetime, review_id: str | None = None
) -> str:
    """The note next to an original in review/: plain words first, the pipeline's own last."""
    when = deleted_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "Dit document moet door een medewerker worden bekeken; er is niets gepubliceerd.",
        "This document needs a person to look at it; nothing was published.",
        "",
        f"Bestand / file: {name}",
        f"Record: {record_id or '-'}",
    ]
    if review_id:
        lines.append(f"Reviewstation / review station: /review, item {review_id}")
    lines += ["", "Wat is er aan de hand / what is wrong:"]
    for entry in explain_all(reasons or ["(no reason given)"]):
        text, staff = entry.text, entry.staff
        lines += [f"- {text['nl']}", f"  {text['en']}", f"  Wat te doen: {staff['nl']}", f"  What to do: {staff['en']}"]
    lines += [
        "",
        "Afronden in het reviewstation (/review): vakken controleren of toevoegen, dan publiceren of weigeren.",
        "Finish it in the review station (/review): check or add boxes, then publish or reject.",
        f"Het origineel wordt verwijderd op / the original is deleted on: {when}",
        "",
        "Reasons as the pipeline gave them:",
        *[f"- {r}" for r in reasons],
    ]
    return "\n".join(lines) + "\n"


def originals(review_dir: Path) -> list[Path]:
    """Originals in review/ that have their reason file (so the watcher's move is complete) and
    one name only (a move is link, then unlink: two names mean it is still under way)."""
    found = []
    try:
        entries = list(os.scandir(review_dir))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not is_candidate_name(entry.name) or entry.name.endswith(REASON_SUFFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if entry.is_file(follow_symlinks=False) and st.st_nlink == 1 and reason_path(review_dir, entry.name).exists():
            found.append(Path(entry.path))
    return sorted(found)


def set_aside_at(review_dir: Path, original_name: str) -> datetime:
    """When the original was set aside: the reason file's time (written just before the move)."""
    try:
        mtime = reason_path(review_dir, original_name).stat().st_mtime
    except FileNotFoundError:
        mtime = (review_dir / original_name).stat().st_mtime
    return datetime.fromtimestamp(mtime, timezone.utc)


def purge_folder(review_dir: Path, cutoff: datetime) -> int:
    """Delete originals and reason files set aside before `cutoff`; returns how many items went.
    A reason file whose original already went to the review station is deleted the same way."""
    removed = 0
    try:
        entries = list(os.scandir(review_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.endswith(REASON_SUFFIX) or entry.name.startswith("."):
            continue
        try:
            if datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, timezone.utc) >= cutoff:
                continue
        except FileNotFoundError:
            continue
        stem = entry.name[: -len(REASON_SUFFIX)]
        for other in entries:
            if other.name != entry.name and split_name(other.name)[0] == stem and not other.name.startswith("."):
                Path(other.path).unlink(missing_ok=True)
        Path(entry.path).unlink(missing_ok=True)
        removed += 1
    return removed
