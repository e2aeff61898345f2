"""Rating normalisation: from a CQC location payload to the rating state we store.

The newest of `currentRatings.overall` (dated by reportDate) and the 2024+ `assessment`
block (dated by assessmentPlanPublishedDateTime or assessmentDate) wins; `historicRatings`
stands in when currentRatings has no overall. Spelling is matched case- and
whitespace-insensitively; every "not rated" form (and a missing rating) becomes
`not_rated`. Only the fields below are kept: contacts, registered managers and nominated
individuals never leave this function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.models.base import KEY_QUESTIONS, Rating

_RATINGS = {
    "outstanding": Rating.outstanding,
    "good": Rating.good,
    "requires improvement": Rating.requires_improvement,
    "inadequate": Rating.inadequate,
}
_QUESTION_NAMES = {
    "safe": "safe",
    "effective": "effective",
    "caring": "caring",
    "responsive": "responsive",
    "well-led": "well_led",
    "well led": "well_led",
}
CQC_SITE = "https://www.cqc.org.uk/location"


def normalise_rating(value: Any) -> Rating:
    """'Requires Improvement', ' good ', 'Insufficient evidence to rate', None -> enum."""
    if not isinstance(value, str):
        return Rating.not_rated
    return _RATINGS.get(re.sub(r"\s+", " ", value).strip().casefold(), Rating.not_rated)


def _date(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


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
    items: Any, default_date: date | None, report_url: str | None
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        key = _QUESTION_NAMES.get(item["name"].strip().casefold())
        if key is None:
            continue
        found[key] = {
            "rating": normalise_rating(item.get("rating")),
            "rated_on": _date(item.get("reportDate")) or default_date,
            "report_url": report_url,
        }
    return found


def _from_current(payload: dict[str, Any], location_id: str) -> RatingState | None:
    current = payload.get("currentRatings")
    overall = current.get("overall") if isinstance(current, dict) else None
    if not isinstance(overall, dict) or "rating" not in overall:
        return None
    rated_on = _date(overall.get("reportDate")) or _date((current or {}).get("reportDate"))
    report_url = f"{CQC_SITE}/{location_id}/reports"
    inherited = overall.get("organisationId")
    return RatingState(
        overall=normalise_rating(overall.get("rating")),
        rated_on=rated_on,
        key_questions=_questions(overall.get("keyQuestionRatings"), rated_on, report_url),
        report_url=report_url,
        inherited_from=inherited
        if isinstance(inherited, str) and inherited != location_id
        else None,
        source_block="currentRatings",
    )


def _from_historic(payload: dict[str, Any], location_id: str) -> RatingState | None:
    historic = [h for h in payload.get("historicRatings") or [] if isinstance(h, dict)]
    dated = [
        (h, _date(h.get("reportDate"))) for h in historic if isinstance(h.get("overall"), dict)
    ]
    dated = [(h, d) for h, d in dated if d is not None]
    if not dated:
        return None
    newest, rated_on = max(dated, key=lambda pair: pair[1] or date.min)
    report_url = f"{CQC_SITE}/{location_id}/reports"
    return RatingState(
        overall=normalise_rating(newest["overall"].get("rating")),
        rated_on=rated_on,
        key_questions=_questions(newest["overall"].get("keyQuestionRatings"), rated_on, report_url),
        report_url=report_url,
        source_block="historicRatings",
    )


def _from_assessment(payload: dict[str, Any], location_id: str) -> RatingState | None:
    best: RatingState | None = None
    for assessment in payload.get("assessment") or []:
        if not isinstance(assessment, dict):
            continue
        published = _date(assessment.get("assessmentPlanPublishedDateTime"))
        ratings: dict[str, Any] = assessment.get("ratings") or {}
        if not isinstance(ratings, dict):
            continue
        entries = [*(ratings.get("overall") or []), *(ratings.get("asgRatings") or [])]
        for entry in entries:
            if not isinstance(entry, dict) or "rating" not in entry:
                continue
            status = str(entry.get("status") or "Current").casefold()
            if status not in ("current", "assessed"):
                continue
            rated_on = published or _date(entry.get("assessmentDate"))
            state = RatingState(
                overall=normalise_rating(entry.get("rating")),
                rated_on=rated_on,
                key_questions=_questions(
                    entry.get("keyQuestionRatings"), rated_on, f"{CQC_SITE}/{location_id}/reports"
                ),
                report_url=f"{CQC_SITE}/{location_id}/reports",
                source_block="assessment",
            )
            if best is None or (rated_on or date.min) > (best.rated_on or date.min):
                best = state
    return best


def current_rating(payload: dict[str, Any]) -> RatingState:
    location_id = str(payload.get("locationId") or "")
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


def normalise_location(payload: dict[str, Any]) -> NormalisedLocation:
    predecessors = tuple(
        str(r["relatedLocationId"])
        for r in payload.get("relationships") or []
        if isinstance(r, dict)
        and "predecessor" in str(r.get("type", "")).casefold()
        and r.get("relatedLocationId")
    )
    services = payload.get("gacServiceTypes") or []
    is_homecare = any(
        isinstance(s, dict)
        and str(s.get("description", "")).casefold() == "domiciliary care service"
        for s in services
    )
    rating = current_rating(payload)
    if rating.inherited_from is None and predecessors and rating.source_block == "currentRatings":
        # The rating's report belongs to a predecessor: it came with the re-registration.
        links = {r.get("linkId") for r in payload.get("reports") or [] if isinstance(r, dict)}
        overall = (payload.get("currentRatings") or {}).get("overall") or {}
        if overall.get("reportLinkId") and overall.get("reportLinkId") not in links:
            rating = RatingState(**{**rating.__dict__, "inherited_from": predecessors[0]})
    name = payload.get("name") or payload.get("locationName")
    return NormalisedLocation(
        cqc_location_id=str(payload.get("locationId")),
        name=str(name)[:200] if name else None,
        postcode=str(payload["postalCode"])[:12] if payload.get("postalCode") else None,
        region=str(payload["region"]) if payload.get("region") else None,
        registration_status=str(payload["registrationStatus"])[:40]
        if payload.get("registrationStatus")
        else None,
        predecessor_ids=predecessors,
        is_homecare=is_homecare,
        rating=rating,
    )
