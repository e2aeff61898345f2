"""Rating normalisation: from a CQC location payload to the rating state we store, or the
verdict that the payload cannot be read.

The newest of `currentRatings.overall` (dated by reportDate) and the 2024+ `assessment`
block (dated by assessmentPlanPublishedDateTime or assessmentDate) wins; `historicRatings`
stands in when currentRatings has no overall. Rating words are matched case- and
whitespace-insensitively onto the four ratings and the "not rated" forms that
../shared/cqc/API.md lists. Anything else where a rating belongs (an unknown word, a
number, an object), a block of the wrong shape, key questions that do not parse or a date
that does not parse makes the whole payload `Unreadable`: it never becomes `not_rated`.
`normalise_location` never raises. `contradiction` then compares a readable answer with
what we hold, because a payload can parse and still be suspicious (a rated location that
arrives with no rating at all).

Only the fields below are kept: contacts, registered managers and nominated individuals
never leave this module, and an `Unreadable` reason names the part of the answer that
failed, never its content.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from app.models.base import KEY_QUESTIONS, Rating

log = logging.getLogger(__name__)

_RATINGS = {
    "outstanding": Rating.outstanding,
    "good": Rating.good,
    "requires improvement": Rating.requires_improvement,
    "inadequate": Rating.inadequate,
}
# CQC's words for "no rating here" (API.md 5.2): recognised, and all of them not_rated.
_SENTINELS = {
    "no published rating",
    "not yet inspected",
    "not rated",
    "do not include in report",
    "insufficient evidence to rate",
    "inspected but not rated",
}
_QUESTION_NAMES = {
    "safe": "safe",
    "effective": "effective",
    "caring": "caring",
    "responsive": "responsive",
    "wellled": "well_led",
}
_CURRENT_STATUSES = {"current", "assessed"}
REAL_RATINGS = frozenset(_RATINGS.values())
CQC_SITE = "https://www.cqc.org.uk/location"


def _words(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip().casefold()


def recognise_rating(value: object) -> Rating | None:
    """'Requires Improvement', ' good ', 'Insufficient evidence to rate' -> the enum (every
    "not rated" form is not_rated); anything CQC does not publish ('Goood', 3, None, an
    object) -> None."""
    if not isinstance(value, str):
        return None
    key = _words(value)
    if key in _RATINGS:
        return _RATINGS[key]
    return Rating.not_rated if key in _SENTINELS else None


class _Unreadable(Exception):
    """Raised inside this module only; normalise_location turns it into Unreadable."""


@dataclass(frozen=True)
class Unreadable:
    """A payload we do not understand. `reason` names where, never what it said."""

    reason: str


def _rating(value: object, where: str) -> Rating:
    found = recognise_rating(value)
    if found is None:
        raise _Unreadable(f"{where}: not a rating CQC publishes")
    return found


def _block(container: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """An optional block: None when absent (CQC omits empty fields) or null, else it must
    be of `kind`."""
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise _Unreadable(f"{where}{key}: not {'a list' if kind is list else 'an object'}")
    return value


def _date(container: dict[str, Any], key: str, where: str) -> date | None:
    """An optional date: None when absent, else it must parse (it decides which block is
    newest, so a garbled one cannot be passed over)."""
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise _Unreadable(f"{where}{key}: not a date")


def _text(container: dict[str, Any], key: str, limit: int) -> str | None:
    value = container.get(key)
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None


@dataclass(frozen=True)
class RatingState:
    """What we compare and store: representation churn cannot change it."""

    overall: Rating
    rated_on: date | None
    key_questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    report_url: str | None = None
    inherited_from: str | None = None
    source_block: str = "none"  # currentRatings | assessment | historicRatings | none

    def question_ratings(self) -> dict[str, str | None]:
        return {q: (self.key_questions.get(q) or {}).get("rating") for q in KEY_QUESTIONS}


@dataclass(frozen=True)
class NormalisedLocation:
    cqc_location_id: str
    name: str | None
    postcode: str | None
    region: str | None
    registration_status: str | None
    predecessor_ids: tuple[str, ...]
    is_homecare: bool
    rating: RatingState


def _questions(
    items: Any, where: str, default_date: date | None, report_url: str | None
) -> dict[str, dict[str, Any]]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Unreadable(f"{where}: not a list")
    found: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise _Unreadable(f"{at}: not an object")
        name = item.get("name")
        key = (
            _QUESTION_NAMES.get(re.sub(r"[\s_-]+", "", name).casefold())
            if isinstance(name, str)
            else None
        )
        if key is None:
            raise _Unreadable(f"{at}.name: not a key question")
        rating = _rating(item.get("rating"), f"{at}.rating")
        if key in found and found[key]["rating"] != rating:
            raise _Unreadable(f"{at}.name: the key question is rated twice, differently")
        found[key] = {
            "rating": rating,
            "rated_on": _date(item, "reportDate", f"{at}.") or default_date,
            "report_url": report_url,
        }
    return found


def _from_current(payload: dict[str, Any], location_id: str) -> RatingState | None:
    current = _block(payload, "currentRatings", dict, "")
    if current is None:
        return None
    overall = _block(current, "overall", dict, "currentRatings.")
    if overall is None:
        return None  # seen in 2026: only a reportDate, the last rating in historicRatings
    if "rating" not in overall:
        raise _Unreadable("currentRatings.overall.rating: missing")
    rating = _rating(overall["rating"], "currentRatings.overall.rating")
    rated_on = _date(overall, "reportDate", "currentRatings.overall.") or _date(
        current, "reportDate", "currentRatings."
    )
    report_url = f"{CQC_SITE}/{location_id}/reports"
    inherited = overall.get("organisationId")
    if inherited is not None and not isinstance(inherited, str):
        raise _Unreadable("currentRatings.overall.organisationId: not an id")
    return RatingState(
        overall=rating,
        rated_on=rated_on,
        key_questions=_questions(
            overall.get("keyQuestionRatings"),
            "currentRatings.overall.keyQuestionRatings",
            rated_on,
            report_url,
        ),
        report_url=report_url,
        inherited_from=inherited if inherited and inherited != location_id else None,
        source_block="currentRatings",
    )


def _from_historic(payload: dict[str, Any], location_id: str) -> RatingState | None:
    historic = _block(payload, "historicRatings", list, "") or []
    dated: list[tuple[date, str, dict[str, Any]]] = []
    for index, entry in enumerate(historic):
        at = f"historicRatings[{index}]"
        if not isinstance(entry, dict):
            raise _Unreadable(f"{at}: not an object")
        overall = _block(entry, "overall", dict, f"{at}.")
        rated_on = _date(entry, "reportDate", f"{at}.")
        if overall is not None and rated_on is not None:
            dated.append((rated_on, at, overall))
    if not dated:
        return None
    rated_on, at, overall = max(dated, key=lambda found: found[0])  # the order is undocumented
    rating = _rating(overall.get("rating"), f"{at}.overall.rating")
    report_url = f"{CQC_SITE}/{location_id}/reports"
    return RatingState(
        overall=rating,
        rated_on=rated_on,
        key_questions=_questions(
            overall.get("keyQuestionRatings"),
            f"{at}.overall.keyQuestionRatings",
            rated_on,
            report_url,
        ),
        report_url=report_url,
        source_block="historicRatings",
    )


def _from_assessment(payload: dict[str, Any], location_id: str) -> RatingState | None:
    best: RatingState | None = None
    report_url = f"{CQC_SITE}/{location_id}/reports"
    for index, assessment in enumerate(_block(payload, "assessment", list, "") or []):
        at = f"assessment[{index}]"
        if not isinstance(assessment, dict):
            raise _Unreadable(f"{at}: not an object")
        published = _date(assessment, "assessmentPlanPublishedDateTime", f"{at}.")
        ratings = _block(assessment, "ratings", dict, f"{at}.")
        if ratings is None:
            continue
        for group in ("overall", "asgRatings"):
            entries = _block(ratings, group, list, f"{at}.ratings.") or []
            for number, entry in enumerate(entries):
                where = f"{at}.ratings.{group}[{number}]"
                if not isinstance(entry, dict):
                    raise _Unreadable(f"{where}: not an object")
                status = entry.get("status")
                if status is not None and not isinstance(status, str):
                    raise _Unreadable(f"{where}.status: not a word")
                if status is not None and _words(status) not in _CURRENT_STATUSES:
                    continue  # a superseded result: history, not the current rating
                if "rating" not in entry:
                    raise _Unreadable(f"{where}.rating: missing")
                rating = _rating(entry["rating"], f"{where}.rating")
                rated_on = published or _date(entry, "assessmentDate", f"{where}.")
                state = RatingState(
                    overall=rating,
                    rated_on=rated_on,
                    key_questions=_questions(
                        entry.get("keyQuestionRatings"),
                        f"{where}.keyQuestionRatings",
                        rated_on,
                        report_url,
                    ),
                    report_url=report_url,
                    source_block="assessment",
                )
                if best is None or (rated_on or date.min) > (best.rated_on or date.min):
                    best = state
    return best


def _current_rating(payload: dict[str, Any], location_id: str) -> RatingState:
    candidates = [
        state
        for state in (
            _from_current(payload, location_id),
            _from_assessment(payload, location_id),
        )
        if state is not None
    ]
    if not candidates:
        historic = _from_historic(payload, location_id)
        return historic or RatingState(overall=Rating.not_rated, rated_on=None)
    # Newest wins; on a tie the assessment framework (the newer system) wins.
    order = {"currentRatings": 0, "assessment": 1}
    return max(candidates, key=lambda s: (s.rated_on or date.min, order[s.source_block]))


def _objects(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """A list of objects that only informs (services, relationships, reports): a wrong
    shape there reads as empty rather than failing the rating."""
    value = payload.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _read(payload: object) -> NormalisedLocation:
    if not isinstance(payload, dict):
        raise _Unreadable("the answer is not an object")
    location_id = payload.get("locationId")
    if not isinstance(location_id, str) or not location_id.strip():
        raise _Unreadable("locationId: missing or not an id")
    predecessors = tuple(
        r["relatedLocationId"]
        for r in _objects(payload, "relationships")
        if isinstance(r.get("type"), str)
        and "predecessor" in r["type"].casefold()
        and isinstance(r.get("relatedLocationId"), str)
        and r["relatedLocationId"]
    )
    is_homecare = any(
        isinstance(s.get("description"), str)
        and _words(s["description"]) == "domiciliary care service"
        for s in _objects(payload, "gacServiceTypes")
    )
    rating = _current_rating(payload, location_id)
    if rating.inherited_from is None and predecessors and rating.source_block == "currentRatings":
        # The rating's report belongs to a predecessor: it came with the re-registration.
        links = {
            r["linkId"] for r in _objects(payload, "reports") if isinstance(r.get("linkId"), str)
        }
        link = payload["currentRatings"]["overall"].get("reportLinkId")
        if isinstance(link, str) and link and link not in links:
            rating = replace(rating, inherited_from=predecessors[0])
    return NormalisedLocation(
        cqc_location_id=location_id,
        name=_text(payload, "name", 200) or _text(payload, "locationName", 200),
        postcode=_text(payload, "postalCode", 12),
        region=_text(payload, "region", 100),
        registration_status=_text(payload, "registrationStatus", 40),
        predecessor_ids=predecessors,
        is_homecare=is_homecare,
        rating=rating,
    )


LAST_RESORT = "the answer could not be read"


def normalise_location(payload: object) -> NormalisedLocation | Unreadable:
    """What CQC says about one location, or why it cannot be read. Never raises."""
    try:
        return _read(payload)
    except _Unreadable as problem:
        return Unreadable(str(problem))
    except Exception as error:  # every shape is checked above (the fuzz tests hold that)
        log.warning("A CQC location payload could not be read: %s", type(error).__name__)
        return Unreadable(f"{LAST_RESORT} ({type(error).__name__})")


@dataclass(frozen=True)
class HeldRating:
    """The rating we hold for a location, to weigh a new answer against."""

    overall: Rating | None
    rated_on: date | None
    questions: dict[str, Rating | None]


def contradiction(held: HeldRating, new: RatingState) -> str | None:
    """Why a readable answer must still not be taken as a change, or None.

    A location we hold as rated that arrives with no rating at all, or with one of the
    "not rated" words, is a suspicious payload, not a change to "not rated" (the rare real
    case, an inspection that ended in "insufficient evidence to rate", waits for a person);
    so is a rated key question that vanishes without a newer rating, and a different
    judgement dated before the one we hold (ratings do not go back in time; a block that
    went missing looks like that). A location never rated stays what it is and is never
    contradicted."""
    if held.overall in REAL_RATINGS and new.overall not in REAL_RATINGS:
        if new.source_block == "none":
            return "no rating at all for a location rated before"
        return "'not rated' for a location rated before"
    newer = new.rated_on is not None and (held.rated_on is None or new.rated_on > held.rated_on)
    new_questions = new.question_ratings()
    for question in KEY_QUESTIONS:
        lost = held.questions.get(question) in REAL_RATINGS
        if lost and new_questions[question] not in REAL_RATINGS and not newer:
            return f"the {question.replace('_', '-')} rating vanished, and no newer rating"
    if (
        held.rated_on is not None
        and new.rated_on is not None
        and new.rated_on < held.rated_on
        and (
            new.overall != held.overall
            or any(new_questions[q] != held.questions.get(q) for q in KEY_QUESTIONS)
        )
    ):
        return "a different rating dated before the one we hold"
    return None
