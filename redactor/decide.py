"""Decide, from everything found on every page, what to black out and whether we are sure.

The find step owns every region; this step only merges them onto the pages and judges.
Fail closed: any doubt becomes a plain-language reason, and any reason makes the document
`needs_review` (nothing is published). What must be on a page comes from its document kind
(`models/documents.json`): a 2014 Dutch passport prints no BSN, so none found is normal there;
a 2021 ID-card back prints one and a QR code, so a missing one is a doubt.
"""

from __future__ import annotations

from dataclasses import replace

from redactor.core import Decision, PageFindings, Region, RegionKind


def _page_reasons(f: PageFindings, n_pages: int) -> list[str]:
    doc = f.document
    where = f" (page {f.page_index + 1})" if n_pages > 1 else ""
    reasons = [d + where for d in f.doubts]
    if not doc.is_id:
        if f.has(RegionKind.PORTRAIT) or f.has(RegionKind.GHOST_PORTRAIT) or f.has(RegionKind.FACE):
            reasons.append(f"A face was found on a page that is not recognisable as an identity document{where}.")
        return reasons
    if doc.mrz and f.mrz is None:
        reasons.append(
            f"This looks like a {doc.title}, whose MRZ may hold the BSN or another personal number, "
            f"but the MRZ could not be read{where}."
        )
    if doc.portrait and not f.has(RegionKind.PORTRAIT):
        reasons.append(f"This is a {doc.title}, but its photo could not be located{where}.")
    if doc.ghost == "required" and not f.has(RegionKind.GHOST_PORTRAIT):
        reasons.append(f"This is a {doc.title}, which carries a second, faint photo (ghost image) that could not be located{where}.")
    if doc.bsn_printed and not f.printed_numbers:
        reasons.append(f"This is a {doc.title}, which prints the BSN, but no readable number was found{where}.")
    if _unprinted_mrz_number(f):
        reasons.append(
            f"The MRZ of this {doc.title} holds a personal number, but it was not found printed on the page, "
            f"where documents of unknown layout usually print it{where}."
        )
    if doc.qr and not f.has(RegionKind.QR_CODE):
        reasons.append(f"This is a {doc.title}, which carries a QR code with the BSN, but the QR code could not be located{where}.")
    return reasons


def _unprinted_mrz_number(f: PageFindings) -> bool:
    """A passport or identity card whose layout we do not know (a foreign one, or a Dutch one
    whose generation could not be told), with a personal number in its MRZ and none found in its
    visual zone: every specimen of that kind prints the number, so it is there, unread (a small
    or blurred capture), and would be left readable. (A visa's optional MRZ data is the issuer's
    own, not printed as a personal number.)"""
    return (
        f.document.generation is None
        and f.document.type != "visa"
        and f.mrz is not None
        and bool(f.mrz.personal_numbers)
        and not f.printed_numbers
    )


def decide(findings: list[PageFindings]) -> Decision:
    regions: list[Region] = []
    reasons: list[str] = []
    for f in findings:
        # Everything was found on the upright view; black it out where it is on the page.
        regions += [replace(r, page=f.page_index, box=f.upright.to_page_box(r.box)) for r in f.regions]
        reasons += _page_reasons(f, len(findings))
    if not any(f.document.is_id for f in findings):
        reasons.append("No identity document was recognised in this file.")
    return Decision(regions=regions, reasons=reasons)
