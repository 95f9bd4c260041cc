"""Every reason the pipeline gives for `needs_review`, in plain Dutch and English, with the next
step: for the requester (the self-check page, the intake's answer) and for privacy staff (the
review station, the watched folder's reason file).

The pipeline's reasons are English sentences written where the doubt arises (decide, numbers,
verify). This module recognises them by their wording, so the places that find a doubt stay
simple; `tests/test_review.py` checks that every reason the pipeline can give is known here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Text = dict[str, str]  # {"nl": ..., "en": ...}


@dataclass(frozen=True)
class Explained:
    code: str
    text: Text  # what is wrong, in plain words
    requester: Text  # what the person who sent the document can do
    staff: Text  # what privacy staff do in the review station

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "text": self.text, "next_step": self.requester, "staff_step": self.staff}


def _t(nl: str, en: str) -> Text:
    return {"nl": nl, "en": en}


_DRAW_NUMBER = _t(
    "Zet een vak over het nummer en publiceer.",
    "Draw a box over the number, then publish.",
)
_SHARPER = _t(
    "Maak een scherpe foto recht van boven, zonder schittering, of trek zelf een vak over het nummer.",
    "Take a sharp photo straight from above, without glare, or draw a box over the number yourself.",
)

# (pattern on the pipeline's English reason, Explained), first match wins.
CATALOGUE: tuple[tuple[re.Pattern[str], Explained], ...] = tuple(
    (re.compile(pattern, re.I), explained)
    for pattern, explained in (
        (
            r"label .* was found but no readable number",
            Explained(
                "number_unreadable",
                _t(
                    "Naast het woord 'Persoonsnummer' of 'BSN' staat een nummer dat we niet kunnen lezen. "
                    "Daarom weten we niet zeker of het onleesbaar wordt.",
                    "There is a number next to the word 'Personal No.' or 'BSN' that we cannot read, "
                    "so we cannot be sure it is made unreadable.",
                ),
                _SHARPER,
                _DRAW_NUMBER,
            ),
        ),
        (
            r"No box covers the place where the unread number should be",
            Explained(
                "box_not_on_number",
                _t(
                    "Je vak staat niet op het nummer dat we niet konden lezen. Waar het hoort te staan, is rood omlijnd.",
                    "Your box is not on the number we could not read. Where it should be is outlined in red.",
                ),
                _t("Trek een vak over het nummer in het rode kader en controleer opnieuw.",
                   "Draw a box over the number inside the red outline and check again."),
                _DRAW_NUMBER,
            ),
        ),
        (
            r"which prints the BSN, but no readable number",
            Explained(
                "bsn_not_found",
                _t(
                    "Op dit document staat een BSN, maar we konden het niet vinden.",
                    "This document shows a BSN, but we could not find it.",
                ),
                _SHARPER,
                _t("Zet een vak over het BSN en publiceer.", "Draw a box over the BSN, then publish."),
            ),
        ),
        (
            r"holds a personal number, but it was not found printed",
            Explained(
                "personal_number_not_found",
                _t(
                    "In de regels met <<< onderaan staat een persoonsnummer. Meestal staat het ook elders op het "
                    "document, maar daar konden we het niet lezen.",
                    "The lines with <<< at the bottom hold a personal number. It is usually printed elsewhere on "
                    "the document as well, but we could not read it there.",
                ),
                _SHARPER,
                _t("Zet een vak over het persoonsnummer waar het op het document staat en publiceer.",
                   "Draw a box over the personal number where it is printed, then publish."),
            ),
        ),
        (
            r"MRZ could not be read",
            Explained(
                "mrz_unreadable",
                _t(
                    "De regels met <<< onderaan (de machineleesbare zone) konden we niet lezen. Daar kan je BSN in staan.",
                    "We could not read the lines with <<< at the bottom (the machine readable zone). They may hold your BSN.",
                ),
                _t(
                    "Maak een foto waarop de onderste regels scherp en helemaal in beeld zijn.",
                    "Take a photo on which the bottom lines are sharp and fully in view.",
                ),
                _t(
                    "Zet een vak over de cijfers van het persoonsnummer in de onderste regels (of over de hele regel) en publiceer.",
                    "Draw a box over the personal number's digits in the bottom lines (or the whole line), then publish.",
                ),
            ),
        ),
        (
            r"its photo could not be located",
            Explained(
                "photo_missing",
                _t("We konden de pasfoto niet vinden.", "We could not find the passport photo."),
                _t(
                    "Zorg dat het hele document in beeld is, of trek zelf een vak over de pasfoto.",
                    "Make sure the whole document is in view, or draw a box over the photo yourself.",
                ),
                _t("Zet een vak over de pasfoto en publiceer.", "Draw a box over the photo, then publish."),
            ),
        ),
        (
            r"ghost image\) that could not be located",
            Explained(
                "ghost_missing",
                _t(
                    "Dit document heeft een tweede, lichte pasfoto die we niet konden vinden.",
                    "This document carries a second, faint photo that we could not find.",
                ),
                _t(
                    "Trek zelf een vak over de lichte tweede foto (meestal rechts van of onder de pasfoto).",
                    "Draw a box over the faint second photo yourself (usually right of or below the photo).",
                ),
                _t(
                    "Zet een vak over de hele lichte tweede foto, ook schouders, en publiceer.",
                    "Draw a box over the whole faint second photo, shoulders included, then publish.",
                ),
            ),
        ),
        (
            r"QR code could not be located",
            Explained(
                "qr_missing",
                _t(
                    "Op dit document staat een QR-code met je BSN, maar we konden hem niet vinden.",
                    "This document carries a QR code holding your BSN, but we could not find it.",
                ),
                _t(
                    "Maak een scherpe foto van de achterkant, of trek zelf een vak over de QR-code.",
                    "Take a sharp photo of the back, or draw a box over the QR code yourself.",
                ),
                _t("Zet een vak over de QR-code en publiceer.", "Draw a box over the QR code, then publish."),
            ),
        ),
        (
            r"face was found on a page that is not recognisable",
            Explained(
                "face_not_on_id",
                _t(
                    "Er staat een gezicht op een pagina die we niet als identiteitsbewijs herkennen.",
                    "There is a face on a page that we do not recognise as an identity document.",
                ),
                _t(
                    "Stuur alleen een foto of scan van je paspoort, identiteitskaart of rijbewijs.",
                    "Send only a photo or scan of your passport, identity card or driving licence.",
                ),
                _t(
                    "Is het toch een identiteitsbewijs? Controleer de vakken en publiceer. Anders: weiger.",
                    "Is it an identity document after all? Check the boxes and publish. Otherwise: reject.",
                ),
            ),
        ),
        (
            r"No identity document was recognised",
            Explained(
                "not_an_id",
                _t("We herkennen in dit bestand geen identiteitsbewijs.", "We do not recognise an identity document in this file."),
                _t(
                    "Stuur een foto of scan van je paspoort, identiteitskaart of rijbewijs, met het hele document in beeld.",
                    "Send a photo or scan of your passport, identity card or driving licence, with the whole document in view.",
                ),
                _t(
                    "Is het een identiteitsbewijs? Zet vakken over BSN, foto's en QR-codes en publiceer. Anders: weiger.",
                    "Is it an identity document? Draw boxes over BSN, photos and QR codes, then publish. Otherwise: reject.",
                ),
            ),
        ),
        (
            r"personal number (that was not blacked out|is still readable)",
            Explained(
                "number_still_readable",
                _t(
                    "Na het zwart maken was een deel van een persoonsnummer nog te lezen.",
                    "After blacking out, part of a personal number could still be read.",
                ),
                _SHARPER,
                _t("Maak het vak over het nummer groter en publiceer.", "Make the box over the number larger, then publish."),
            ),
        ),
        (
            r"QR code is still detectable",
            Explained(
                "qr_still_visible",
                _t("Na het zwart maken was nog een QR-code te zien.", "After blacking out, a QR code could still be seen."),
                _t("Trek zelf een vak over de QR-code.", "Draw a box over the QR code yourself."),
                _t("Zet een vak over de hele QR-code en publiceer.", "Draw a box over the whole QR code, then publish."),
            ),
        ),
        (
            r"face-like region remains visible",
            Explained(
                "face_still_visible",
                _t("Na het zwart maken was nog een gezicht te zien.", "After blacking out, a face could still be seen."),
                _t("Trek zelf een vak over het gezicht of de foto.", "Draw a box over the face or photo yourself."),
                _t("Zet een vak over het hele gezicht (de rode rand) en publiceer.", "Draw a box over the whole face (the red outline), then publish."),
            ),
        ),
        (
            r"could not be analysed completely",
            Explained(
                "analysis_failed",
                _t("Het document kon niet helemaal worden gecontroleerd.", "The document could not be checked completely."),
                _t("Probeer het opnieuw met een andere foto of scan.", "Try again with another photo or scan."),
                _t(
                    "Zet vakken over BSN, foto's en QR-codes en publiceer, of weiger.",
                    "Draw boxes over BSN, photos and QR codes, then publish, or reject.",
                ),
            ),
        ),
    )
)

UNKNOWN = Explained(
    "other",
    _t("We weten niet zeker of alles onleesbaar is.", "We are not sure everything is unreadable."),
    _t("Probeer een scherpere foto of scan van het hele document.", "Try a sharper photo or scan of the whole document."),
    _t(
        "Bekijk het document, zet vakken over wat weg moet en publiceer, of weiger.",
        "Look at the document, draw boxes over what must go, then publish, or reject.",
    ),
)
_PAGE = re.compile(r"\(page (\d+)\)")


def explain(reason: str) -> Explained:
    """The plain-words entry for one of the pipeline's reasons (a general one when unknown)."""
    found = next((e for pattern, e in CATALOGUE if pattern.search(reason)), UNKNOWN)
    page = _PAGE.search(reason)
    if page is None:
        return found
    n = page.group(1)
    return Explained(
        found.code,
        {"nl": f"{found.text['nl']} (pagina {n})", "en": f"{found.text['en']} (page {n})"},
        found.requester,
        found.staff,
    )


def explain_all(reasons: list[str]) -> list[Explained]:
    """One entry per distinct explanation, in the order of the reasons."""
    seen: dict[tuple[str, str], Explained] = {}
    for reason in reasons:
        entry = explain(reason)
        seen.setdefault((entry.code, entry.text["en"]), entry)
    return list(seen.values())


def explanations(reasons: list[str]) -> list[dict[str, object]]:
    """`explain_all` as JSON for an API answer."""
    return [e.as_dict() for e in explain_all(reasons)]
