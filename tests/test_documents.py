"""The generation rules of shared/docs/id-documents.md, asserted on what the pipeline does with
generated documents of every Dutch generation and side: which document it says it saw, what
it blacked out, and that "no BSN printed" is normal where the generation prints none.

Expected values come from the shared table, not from the code: e.g. the 2014 passport has the
BSN in the MRZ only, the 2021 ID-card back prints it and holds it in a QR code."""

from __future__ import annotations

from collections import Counter

import pytest

from redactor.pipeline import Outcome, redact_document

from conftest import SAMPLES

# file -> (document kind the record must name, redaction kinds that must be there, kinds that must not)
RULES = {
    # pre-2014 passport: BSN printed and in the MRZ; no QR
    "nl_passport_pre2014_scan200.png": ("nl_passport_pre2014", {"bsn": 2, "portrait": 1}, {"qr_code"}),
    # 2014 passport: BSN in the MRZ only; ghost image
    "nl_passport_2014_scan300.jpg": ("nl_passport_2014", {"bsn": 1, "portrait": 1, "ghost_portrait": 1}, {"qr_code"}),
    # 2021 passport data page: no BSN at all, so nothing of kind bsn, and still published
    "nl_passport_2021_scan300.jpg": ("nl_passport_2021", {"portrait": 1, "ghost_portrait": 1}, {"bsn", "qr_code"}),
    # 2021 holder-page back: BSN in digits and as a QR code; no photo
    "nl_passport_2021_holder_back_scan300.jpg": ("nl_passport_2021_holder_back", {"bsn": 1, "qr_code": 1}, {"portrait"}),
    # ID card 2014 back: BSN printed and in the MRZ optional data
    "nl_idcard_2014_back_scan300.jpg": ("nl_idcard_2014_back", {"bsn": 2}, {"qr_code", "portrait"}),
    # ID card 2021 back: BSN printed and as a QR code; the MRZ no longer holds it
    "nl_idcard_2021_back.jpg": ("nl_idcard_2021_back", {"bsn": 1, "qr_code": 1}, {"portrait"}),
    # ID card front: portrait and ghost, no BSN
    "nl_idcard_2021_front_scan300.jpg": ("nl_idcard_front", {"portrait": 1, "ghost_portrait": 1}, {"bsn", "qr_code"}),
    # driving licence with field 4d: the BSN there
    "nl_driving_licence_2006_scan300.png": ("nl_driving_licence_2006", {"bsn": 1, "portrait": 1}, set()),
    # newest driving licence: no field 4d, no BSN, still published
    "nl_driving_licence_2025_scan300.jpg": ("nl_driving_licence_2025", {"portrait": 1}, {"bsn"}),
}


@pytest.fixture(scope="module")
def outcomes(redacted) -> dict[str, Outcome]:
    return {name: redacted(name) for name in RULES}


@pytest.mark.parametrize("name", sorted(RULES))
def test_generation_rules(name: str, outcomes: dict[str, Outcome]) -> None:
    kind, must, must_not = RULES[name]
    outcome = outcomes[name]
    assert outcome.status == "redacted", outcome.reasons
    assert outcome.record["document"]["kind"] == kind
    counts = Counter(r["kind"] for r in outcome.record["redactions"])
    for region_kind, at_least in must.items():
        assert counts[region_kind] >= at_least, (region_kind, counts)
    for region_kind in must_not:
        assert counts[region_kind] == 0, (region_kind, counts)


def test_the_record_names_the_dutch_state_without_an_mrz(outcomes: dict[str, Outcome]) -> None:
    doc = outcomes["nl_driving_licence_2025_scan300.jpg"].record["document"]
    assert doc["issuing_state"] == "NLD" and doc["type"] == "driving_licence"


def test_a_letter_that_mentions_documents_is_not_one(engines, settings, keys) -> None:
    outcome = redact_document(
        (SAMPLES / "letter_visa_passport_text.jpg").read_bytes(), engines=engines, keys=keys, settings=settings
    )
    assert outcome.status == "needs_review" and outcome.output is None
    assert outcome.record["document"]["kind"] == "not_an_id"


# The rules without models: what the find step would hand over, written out by hand.


def _lines(*texts: str) -> list:
    from redactor.core import TextLine

    return [TextLine(t, (0.0, 40.0 * i, 400.0, 40.0 * i + 30), 0.95, "test") for i, t in enumerate(texts)]


def _classify(lines, **evidence):
    from redactor.documents import PageEvidence, classify
    from redactor.resources import model_json

    ev = {"mrz": None, "has_qr": False, "has_face": False, "has_bsn": False} | evidence
    return classify(model_json("documents.json"), PageEvidence(lines=lines, **ev)).key


def test_a_letter_with_document_words_and_a_photo_is_no_id() -> None:
    letter = _lines(
        "Geachte heer, mevrouw, hierbij stuur ik u een kopie van mijn paspoort en visa",
        "zoals gevraagd in uw brief van vorige week over mijn verzoek tot inzage in mijn gegevens.",
        "Mijn geboortedatum en nationaliteit staan in het document dat ik eerder heb gestuurd.",
        "Ik hoop dat u hiermee voldoende informatie heeft om mijn verzoek in behandeling te nemen.",
        "Mocht u nog vragen hebben, dan kunt u mij bereiken op het bekende telefoonnummer overdag.",
        "Met vriendelijke groet, en alvast bedankt voor uw moeite en de snelle afhandeling hiervan.",
    )
    assert _classify(letter, has_face=True) == "not_an_id"


def test_one_title_word_is_not_enough_without_field_labels() -> None:
    assert _classify(_lines("PASSPORT", "Welcome to our travel agency")) == "not_an_id"


def test_id_card_front_from_title_and_labels() -> None:
    front = _lines("KONINKRIJK DER NEDERLANDEN", "IDENTITEITSKAART / IDENTITY CARD", "Naam / Surname", "Geboortedatum / Date of birth")
    assert _classify(front, has_face=True) == "nl_idcard_front"


def test_driving_licence_generation_follows_field_4d() -> None:
    old = _lines("RIJBEWIJS", "NEDERLAND", "1. JANSEN", "2. ANNA", "3. 01.02.1980", "4a. 01.01.2015", "4d. 123456782", "5. 1234567890")
    new = _lines("RIJBEWIJS", "NEDERLAND", "1. JANSEN", "2. ANNA", "3. 01.02.1980", "4a. 01.01.2025", "5. 1234567890")
    assert _classify(old, has_face=True) == "nl_driving_licence_2006"
    assert _classify(new, has_face=True) == "nl_driving_licence_2025"


def test_a_title_read_with_one_letter_missing_still_names_the_document() -> None:
    # OCR read "RIJBEWIS" on a clean 300 dpi scan (sample_docs/generate.py --seed 11): the
    # licence must not become "no identity document" and go to review for one dropped letter.
    misread = _lines("RIJBEWIS", "KONINKRIJK DER NEDERLANDEN", "1. VISSER", "2. Anna Maria", "4a. 06.11.2019", "4d. 438719347")
    assert _classify(misread, has_face=True) == "nl_driving_licence_2006"
    # ... but a word two edits away from every title is still no title.
    assert _classify(_lines("RIBEWIS", "1. VISSER", "2. Anna Maria", "4a. 06.11.2019"), has_face=True) == "not_an_id"


def test_holder_page_back_from_a_qr_code_beside_a_bsn() -> None:
    back = _lines("KONINKRIJK DER NEDERLANDEN", "Persoonsnummer / Personal No.", "999999990")
    assert _classify(back, has_qr=True, has_bsn=True) == "nl_passport_2021_holder_back"


def test_sentence_mentioning_the_bsn_is_not_a_label_without_a_number() -> None:
    from redactor.numbers import find_numbers

    found = find_numbers(_lines("De QR-code bevat uw burgerservicenummer."), [], None)
    assert found.review_reasons == [] and found.hits == []
    labelled = find_numbers(_lines("Persoonsnummer / Personal No. / N° personnel", "Jansen"), [], None)
    assert labelled.review_reasons  # a real label with no number under it stays a doubt


@pytest.mark.parametrize(
    "printed, mrz_value, hidden",
    [
        # The MRZ holds only the tail of a Romanian CNP: the whole printed number goes.
        ("CNP 1850509204994", "1204994", "1850509204994"),
        # The Finnish HETU tail is printed after the birth date: the date stays readable.
        ("21.12.1971 -426U", "211271426U", "426U"),
        # A Latvian personal code whose MRZ copy was read only in part: the code goes whole.
        ("111111-11648", "11648", "111111-11648"),
        # Czech birth number, printed with a slash.
        ("110101/111", "110101111", "110101/111"),
    ],
)
def test_the_mrz_personal_number_is_found_as_printed(printed: str, mrz_value: str, hidden: str) -> None:
    from redactor.numbers import find_numbers

    found = find_numbers(_lines(printed), [mrz_value], None, dutch=False)
    assert [h.value for h in found.hits] == [hidden]
    assert all(h.kind == "personal_number" for h in found.hits)


def test_a_foreign_passport_whose_mrz_was_seen_but_not_read_goes_to_review() -> None:
    """Its MRZ's digit runs are blacked out, but which personal number it holds is unknown, so
    the same number printed in the visual zone (the Latvian '111111-11648') cannot be found:
    review, not publish. A passport page with no MRZ-like line at all (cut off, as on the
    Australian specimen) has nothing unread and is published on its title and fields."""
    from redactor.documents import PageEvidence, classify
    from redactor.resources import model_json

    page = _lines("LATVIJA LATVIA", "PASE / PASSPORT", "Uzvārds / Surname", "Dzimšanas datums / Date of birth", "MOHAMADA")
    seen = classify(model_json("documents.json"), PageEvidence(mrz=None, lines=page, has_qr=False, has_face=True, has_bsn=False, has_unparsed_mrz=True))
    cut_off = classify(model_json("documents.json"), PageEvidence(mrz=None, lines=page, has_qr=False, has_face=True, has_bsn=False))
    assert (seen.key, seen.mrz) == ("passport", True)
    assert (cut_off.key, cut_off.mrz) == ("passport", False)
    # The same for a card named by its title and labels (front and back scanned on one page).
    card = _lines("REPUBLIKA SLOVENIJA", "OSEBNA IZKAZNICA / IDENTITY CARD", "Priimek / Surname", "Datum rojstva / Date of birth")
    seen_card = classify(model_json("documents.json"), PageEvidence(mrz=None, lines=card, has_qr=False, has_face=True, has_bsn=False, has_unparsed_mrz=True))
    assert (seen_card.key, seen_card.mrz) == ("identity_card_front", True)
