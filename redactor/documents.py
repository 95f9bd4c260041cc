"""Which document (type, generation, side) a page shows, and so what must be on it.

The expectations live in one table, `models/documents.json`; this module only decides which
row a page is, from the evidence the find step has:
- the MRZ: issuing state, format (TD3 passport, TD1 card back), and whether the
  personal-number field is filled (the Dutch 2021 models leave it empty);
- printed labels: a document title ("Identiteitskaart", "Rijbewijs") and field labels;
- whether a QR code and a face are on the page.

A page without an MRZ is an identity document only with a title and at least two field labels
of one family (or, for the Dutch 2021 holder-page back, a QR code beside a BSN): a letter that
mentions "passport" or "visa" is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from redactor.core import TextLine
from redactor.mrz import MrzResult

NLD = "NLD"
# A letter or form: many long lines of running text. ID fields are short.
PROSE_LINE_CHARS = 45
PROSE_LINES = 6


@dataclass(frozen=True)
class DocumentKind:
    """One row of models/documents.json, plus what made us choose it."""

    key: str
    title: str
    type: str
    side: str | None
    generation: str | None
    bsn_printed: bool
    qr: bool
    ghost: str  # "required" | "maybe" | "none"
    portrait: bool
    mrz: bool  # the MRZ may hold the BSN: recognised without a readable one, the page needs review
    layout: str | None  # key into the table's "layouts" ("NLD/TD3"), from the MRZ
    evidence: str  # plain words: why this row

    @property
    def is_id(self) -> bool:
        return self.key != "not_an_id"


@dataclass(frozen=True)
class PageEvidence:
    """What classification looks at, gathered by the find step."""

    mrz: MrzResult | None
    lines: list[TextLine]
    has_qr: bool
    has_face: bool
    has_bsn: bool  # a 9-digit number passing the elfproef is printed
    has_unparsed_mrz: bool = False


def squash(text: str) -> str:
    """Lower case without spaces and punctuation: how labels are compared."""
    return re.sub(r"[\s.:'/\-_,()|]", "", text.lower())


def _kind(table: dict[str, Any], key: str, evidence: str, layout: str | None = None) -> DocumentKind:
    row = table["kinds"][key]
    return DocumentKind(
        key=key,
        title=row["title"],
        type=row["type"],
        side=row["side"],
        generation=row["generation"],
        bsn_printed=row["bsn_printed"],
        qr=row["qr"],
        ghost=row["ghost"],
        portrait=row["portrait"],
        mrz=row.get("mrz", False),
        layout=layout if layout in table["layouts"] else None,
        evidence=evidence,
    )


def _words(lines: list[TextLine]) -> set[str]:
    """Every squashed line and every squashed word, so both 'geboortedatum' and 'dateofbirth' match."""
    out: set[str] = set()
    for line in lines:
        out.add(squash(line.text))
        out.update(squash(w) for w in re.split(r"[\s/]+", line.text) if w)
    return out


def _count(labels: list[str], lines: list[TextLine]) -> int:
    """How many distinct labels of a family appear. Short labels must be a whole word or line
    (so 'nom' does not match inside 'economie'); long ones may be run together by OCR."""
    words = _words(lines)
    text = " ".join(words)
    found = 0
    for label in labels:
        key = squash(label)
        if len(key) >= 7:
            found += key in text or (len(key) >= FUZZY_LABEL_CHARS and any(_one_edit(key, w) for w in words))
        else:
            found += key in words
    return found


# A label this long may be read with one character wrong, missing or extra ("RIJBEWIS"):
# OCR drops a narrow letter now and then, and no ordinary word is one edit from a title.
FUZZY_LABEL_CHARS = 8


def _one_edit(a: str, b: str) -> bool:
    """At most one substitution, insertion or deletion turns `a` into `b`."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def _licence_fields(lines: list[TextLine]) -> int:
    """Numbered licence fields ('1.', '4a.', '5.') at the start of a line."""
    seen = set()
    for line in lines:
        m = re.match(r"\s*(\d{1,2}[abcd]?)[.:)]", line.text.lower())
        if m:
            seen.add(m.group(1))
    return len(seen)


def has_field_4d(lines: list[TextLine]) -> bool:
    return any(re.match(r"\s*4d(?![a-z])", line.text.lower()) for line in lines)


def _is_prose(lines: list[TextLine]) -> bool:
    return sum(len(l.text) >= PROSE_LINE_CHARS for l in lines) >= PROSE_LINES


def issuing_state(mrz: MrzResult) -> str:
    """The issuing state; the nationality field when OCR garbled the state code (an extra
    '<' read into line 1 leaves 'NL'), since both are NLD on Dutch documents. A Dutch holder's
    passport or ID card is Dutch whatever line 1 says (a small phone photo read 'P<NDM'): only
    the Netherlands issues them to its nationals."""
    state = mrz.issuing_state
    if mrz.nationality == "NLD":
        return "NLD"
    if len(state) == 3 or len(mrz.nationality) != 3:
        return state
    return mrz.nationality if mrz.nationality.startswith(state) or not state else state


def _from_mrz(table: dict[str, Any], mrz: MrzResult, ev: PageEvidence) -> DocumentKind:
    state, fmt, code = issuing_state(mrz), mrz.format, mrz.document_code[:1]
    layout = f"{state}/{fmt}"
    filled = any(f.text.strip("<") for f in mrz.personal_fields)
    said = f"MRZ {fmt} of {state or 'an unknown state'}"
    if state == NLD and fmt == "TD3" and code == "P":
        if not filled:
            return _kind(table, "nl_passport_2021", said + ", personal-number field empty", layout)
        printed_label = _count(["persoonsnummer", "personalno"], ev.lines) > 0
        if printed_label:
            return _kind(table, "nl_passport_pre2014", said + ", BSN label printed", layout)
        return _kind(table, "nl_passport_2014", said + ", BSN in the MRZ only", layout)
    if state == NLD and fmt == "TD1":
        key = "nl_idcard_2014_back" if filled else "nl_idcard_2021_back"
        kind = _kind(table, key, said + (", BSN in the MRZ" if filled else ", optional data empty"), layout)
        if ev.has_face:
            # Both sides scanned onto one page: the front's photos are here too.
            front = _kind(table, "nl_idcard_front", "")
            kind = replace(kind, title=kind.title + " and front", ghost=front.ghost, portrait=True,
                           evidence=kind.evidence + ", and a face: the front is on this page too")
        return kind
    if code == "P":
        return _kind(table, "passport", said, layout)
    if code == "V":
        return _kind(table, "visa", said, layout)
    if code in ("I", "A", "C"):
        key = "identity_card_back" if fmt == "TD1" else "identity_card_front"
        return _kind(table, key, said, layout)
    return _kind(table, "travel_document", said, layout)


def _without_mrz(table: dict[str, Any], ev: PageEvidence) -> DocumentKind:
    labels = table["labels"]
    lines = ev.lines
    if _is_prose(lines) and not ev.has_unparsed_mrz:
        return _kind(table, "not_an_id", "running text, like a letter")
    titles = {kind: _count(words, lines) > 0 for kind, words in labels["titles"].items()}
    dutch = _count(labels["netherlands"], lines) > 0
    fields = _count(labels["data_page"], lines)
    if titles["driving_licence"] and (_licence_fields(lines) >= 2 or fields >= 2):
        if has_field_4d(lines):
            return _kind(table, "nl_driving_licence_2006", "driving-licence title and field 4d")
        if dutch or _count(["rijbewijs"], lines):
            return _kind(table, "nl_driving_licence_2025", "Dutch driving-licence title, no field 4d")
        return _kind(table, "driving_licence", "driving-licence title and numbered fields")
    if ev.has_qr and ev.has_bsn and not ev.has_face:
        return _kind(table, "nl_passport_2021_holder_back", "a QR code beside a number that passes the BSN check")
    if titles["identity_card"] and (fields >= 2 or ev.has_face):
        key = "nl_idcard_front" if dutch else "identity_card_front"
        return _kind(table, key, "identity-card title and field labels")
    if titles["passport"] and dutch and (fields >= 2 or ev.has_face or ev.has_unparsed_mrz):
        # Its MRZ may hold the BSN; the row says an MRZ is expected, so decide asks for review.
        return _kind(table, "nl_passport_2014", "Dutch passport title, but no MRZ could be read")
    if ev.has_unparsed_mrz and (fields >= 2 or any(titles.values())):
        key = "passport" if titles["passport"] else "travel_document"
        return _kind(table, key, "an MRZ that could not be read, with field labels")
    if any(titles.values()) and (fields >= 2 or ev.has_face):
        key = "passport" if titles["passport"] else "identity_card_front"
        return _kind(table, key, "a document title with field labels or a portrait")
    return _kind(table, "not_an_id", "no MRZ, and no document title with field labels")


def classify(table: dict[str, Any], ev: PageEvidence) -> DocumentKind:
    if ev.mrz is not None:
        return _from_mrz(table, ev.mrz, ev)
    kind = _without_mrz(table, ev)
    # An MRZ seen but not read: which personal number it holds is unknown, so the same number
    # printed in the visual zone (the Latvian 111111-11648) cannot be found either; decide
    # asks for review, whichever document the labels name.
    return replace(kind, mrz=True) if kind.is_id and ev.has_unparsed_mrz else kind


def layout_zone(table: dict[str, Any], kind: DocumentKind, name: str) -> tuple[float, float, float, float] | None:
    """A zone of the document's layout in MRZ units ('ghost_zone', 'portrait_zone'), if known."""
    if kind.layout is None:
        return None
    zone = table["layouts"][kind.layout].get(name)
    return tuple(zone) if zone else None  # type: ignore[return-value]
