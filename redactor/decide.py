"""Decide, from everything found on every page, what to black out and whether we are sure.

Fail closed: any doubt becomes a plain-language reason, and any reason makes the document
`needs_review` (nothing is published). Regions are returned in page pixels (as displayed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redactor.core import Decision, Region
from redactor.layout import PortraitZone
from redactor.mrz import MrzResult
from redactor.normalise import UprightPage
from redactor.numbers import NumberFindings

DOCUMENT_WORDS = re.compile(
    r"paspoort|passport|passeport|reisepass|identiteitskaart|identitycard|cartedidentit|personalausweis"
    r"|rijbewijs|drivinglicen|permisdeconduire|fuhrerschein|führerschein|verblijfsdocument|residencepermit"
    r"|nationaliteit|nationality|nationalit|geboortedatum|dateofbirth|datedenaissance|surname|documentnr"
    r"|documentno|documentnumber|visa|kingdomofthenetherlands|koninkrijkdernederlanden"
)


@dataclass(frozen=True)
class PageFindings:
    upright: UprightPage
    mrz: MrzResult | None
    numbers: NumberFindings
    zones: list[PortraitZone]
    ghost_expected: bool = False

    @property
    def page_index(self) -> int:
        return self.upright.page.index

    def _squashed_text(self) -> str:
        return re.sub(r"[\s.:'/\-]", "", " ".join(l.text for l in self.upright.all_lines).lower())

    def looks_like_id(self) -> bool:
        return self.mrz is not None or bool(DOCUMENT_WORDS.search(self._squashed_text()))

    def is_dutch_driving_licence(self) -> bool:
        # Dutch licences carry the BSN in field 4d and have no MRZ to cross-check it.
        return self.mrz is None and "rijbewijs" in self._squashed_text()


def _mrz_regions(f: PageFindings) -> list[Region]:
    if f.mrz is None:
        return []
    regions = []
    kind = "bsn" if f.mrz.issuing_state == "NLD" else "personal_number"
    for field in f.mrz.personal_fields:
        if field.text.strip("<"):
            box = f.mrz.cell_box(field.line, field.start, field.end)
            regions.append(Region(kind, f.page_index, box, "personal number field of the MRZ"))
    return regions


def _page_reasons(f: PageFindings, n_pages: int) -> list[str]:
    reasons = list(f.numbers.review_reasons)
    where = f" (page {f.page_index + 1})" if n_pages > 1 else ""
    portraits = [z for z in f.zones if z.kind == "portrait"]
    if f.mrz is not None and f.mrz.format == "TD3" and not portraits:
        reasons.append(f"This is a passport page, but its photo could not be located{where}.")
    if f.ghost_expected and not any(z.kind == "ghost_portrait" for z in f.zones):
        reasons.append(f"This document type carries a second, faint portrait (ghost image) that could not be located{where}.")
    if f.mrz is not None and f.mrz.issuing_state == "NLD" and not f.numbers.hits:
        reasons.append(f"This is a Dutch document, but its printed BSN could not be found{where}.")
    if f.is_dutch_driving_licence() and not f.numbers.hits:
        reasons.append(f"This is a Dutch driving licence, but the BSN in field 4d could not be found{where}.")
    if f.zones and not f.looks_like_id():
        reasons.append(f"A face was found on a page that is not recognisable as an identity document{where}.")
    return reasons


def decide(findings: list[PageFindings]) -> Decision:
    regions: list[Region] = []
    reasons: list[str] = []
    for f in findings:
        page_regions = [Region(h.kind, f.page_index, h.box, h.reason) for h in f.numbers.hits]  # type: ignore[arg-type]
        page_regions += _mrz_regions(f)
        page_regions += [Region(z.kind, f.page_index, z.box, z.reason) for z in f.zones]  # type: ignore[arg-type]
        # Everything was found on the upright view; black it out where it is on the page.
        regions += [Region(r.kind, r.page, f.upright.to_page_box(r.box), r.reason) for r in page_regions]
        reasons += _page_reasons(f, len(findings))
    if not any(f.looks_like_id() for f in findings):
        reasons.append("No identity document was recognised in this file.")
    return Decision(regions=regions, reasons=reasons)
