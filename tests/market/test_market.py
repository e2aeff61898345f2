"""The market through the API and the imports: localities as a list with one lead at a
time, capacity returns and waiting lists, KPIs banded by alerts/kpis.yaml, and the rules
that read them, on both engines."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config_files import ConfigFileError
from app.market.imports import parse_day, parse_month, run_import
from app.market.kpis import load_kpis
from app.services import Services
from tests import factories
from tests.conftest import World


async def _locality_id(world: World, name: str) -> int:
    listed = (await world.get("/localities")).json()["items"]
    return int(next(item["id"] for item in listed if item["name"] == name))


def _month(services: Services, back: int) -> str:
    """The first day of the month `back` months before today's, as ISO text."""
    today = services.clock.today()
    months = today.year * 12 + today.month - 1 - back
    return date(months // 12, months % 12 + 1, 1).isoformat()


def _kpis(
    services: Services, back: int, missed: int, late: int = 10, logged: int = 900
) -> dict[str, Any]:
    return {
        "month": _month(services, back),
        "visits_planned": 1000,
        "visits_missed": missed,
        "visits_late": late,
        "calls_logged_in_home": logged,
    }


async def test_localities_are_a_list_that_providers_choose_from(world: World) -> None:
    created = await world.post("/localities", {"name": "Plympton"}, role="manager")
    assert created.status_code == 201, created.text
    assert (
        await world.post("/localities", {"name": "Plympton"}, role="manager")
    ).status_code == 409
    assert (await world.post("/localities", {"name": "Elsewhere"})).status_code == 403
    provider = await world.provider(localities=[created.json()["id"], "North", "North"])
    assert provider["localities"] == ["North", "Plympton"]
    unknown = await world.post("/providers", {"name": "Nowhere Care", "localities": ["Nowhere"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "localities.0"
    # JSON's 12.0 is the integer 12, as for every other id; 12.5 is no id.
    whole = await world.post(
        "/providers", {"name": "Whole Number Care", "localities": [float(created.json()["id"])]}
    )
    assert whole.status_code == 201, whole.text
    assert whole.json()["localities"] == ["Plympton"]
    fraction = await world.post("/providers", {"name": "Fraction Care", "localities": [2.5]})
    assert fraction.status_code == 422
    assert fraction.json()["errors"][0]["field"] == "localities.0"
    renamed = await world.patch(
        f"/localities/{created.json()['id']}", {"name": "Plympton St Mary"}, role="manager"
    )
    assert renamed.status_code == 200, renamed.text
    moved = (await world.get(f"/providers/{provider['id']}")).json()
    assert moved["localities"] == ["North", "Plympton St Mary"]  # the rename cascades


async def test_a_locality_has_one_lead_at_a_time_and_keeps_who_led_when(
    world: World, services: Services
) -> None:
    north = await _locality_id(world, "North")
    first = await world.provider(name="First Care")
    second = await world.provider(name="Second Care")
    south_only = await world.provider(name="South Care", localities=["South"])
    today = services.clock.today()
    start = (today - timedelta(days=100)).isoformat()
    handover = (today - timedelta(days=10)).isoformat()
    made = await world.post(
        f"/localities/{north}/lead", {"provider_id": first["id"], "from_on": start}, "manager"
    )
    assert made.status_code == 200, made.text
    assert made.json()["lead_provider_name"] == "First Care"
    refused = await world.post(
        f"/localities/{north}/lead",
        {"provider_id": south_only["id"], "from_on": handover},
        "manager",
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "provider_id"
    changed = await world.post(
        f"/localities/{north}/lead", {"provider_id": second["id"], "from_on": handover}, "manager"
    )
    detail = changed.json()
    assert detail["lead_provider_id"] == second["id"]
    assert [(t["provider_name"], t["started_on"], t["ended_on"]) for t in detail["leads"]] == [
        ("Second Care", handover, None),
        ("First Care", start, (today - timedelta(days=11)).isoformat()),
    ]
    assert detail["providers"][0]["name"] == "Second Care" and detail["providers"][0]["lead"]
    # The lead cannot leave the locality before another takes over.
    leaving = await world.patch(f"/providers/{second['id']}", {"localities": ["South"]})
    assert leaving.status_code == 422 and leaving.json()["errors"][0]["field"] == "localities"


async def test_capacity_and_waiting_add_up_on_the_locality(
    world: World, services: Services
) -> None:
    north = await _locality_id(world, "North")
    provider = await world.provider()
    today = services.clock.today()
    week = {
        "period_start": (today - timedelta(days=13)).isoformat(),
        "period_end": (today - timedelta(days=7)).isoformat(),
        "hours_commissioned": 420,
        "hours_delivered": 399.5,
        "people_supported": 31,
        "packages_accepted": 2,
        "packages_declined": 1,
    }
    stored = await world.post(f"/providers/{provider['id']}/capacity", week)
    assert stored.status_code == 201, stored.text
    assert stored.json()["monitoring_level"] == "routine"
    assert (await world.post(f"/providers/{provider['id']}/capacity", week)).status_code == 409
    backwards = {**week, "period_end": (today - timedelta(days=20)).isoformat()}
    bad = await world.post(f"/providers/{provider['id']}/capacity", backwards)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period_end"
    negative = await world.post(
        f"/providers/{provider['id']}/capacity", {**week, "hours_delivered": -1}
    )
    assert (
        negative.status_code == 422 and negative.json()["errors"][0]["field"] == "hours_delivered"
    )
    waiting = {"counted_on": today.isoformat(), "people_waiting": 12, "hours_waiting": 96}
    assert (await world.post(f"/localities/{north}/waiting", waiting)).status_code == 201
    future = {**waiting, "counted_on": (today + timedelta(days=1)).isoformat()}
    assert (await world.post(f"/localities/{north}/waiting", future)).status_code == 422
    detail = (await world.get(f"/localities/{north}", role="viewer")).json()
    assert (detail["hours_commissioned"], detail["hours_delivered"]) == (420, 399.5)
    assert (detail["people_supported"], detail["people_waiting"]) == (31, 12)
    assert detail["levels"] == {"routine": 1}
    assert (await world.get(f"/providers/{provider['id']}/capacity")).json()["total"] == 1


async def test_kpis_are_banded_and_two_red_months_of_missed_visits_escalate(
    world: World, services: Services
) -> None:
    provider = await world.provider()
    path = f"/providers/{provider['id']}/kpis"
    quiet = await world.post(path, _kpis(services, 3, missed=10, late=200, logged=800))
    assert quiet.status_code == 201, quiet.text
    body = quiet.json()
    assert (body["missed_visits_pct"], body["missed_visits_band"]) == (1.0, "green")
    assert (body["punctuality_band"], body["calls_logged_band"]) == ("amber", "red")
    first_red = await world.post(path, _kpis(services, 2, missed=40))
    assert first_red.json()["missed_visits_band"] == "red"
    assert first_red.json()["monitoring_level"] == "routine"
    second_red = await world.post(path, _kpis(services, 1, missed=31))
    assert second_red.json()["monitoring_level"] == "enhanced"
    (reason,) = second_red.json()["escalation"]["reasons"]
    assert reason["rule"] == "missed-visits-red"
    assert reason["description"] == "Missed visits were in the red band two months running."
    assert reason["detail"] == "red on missed visits 2 months running"
    again = await world.post(path, _kpis(services, 1, missed=1))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "month"
    impossible = await world.post(path, {**_kpis(services, 0, missed=10), "visits_late": 995})
    assert impossible.status_code == 422
    assert impossible.json()["errors"][0]["field"] == "visits_late"
    assert (await world.get(path)).json()["total"] == 3


async def test_red_months_apart_do_not_make_a_run(world: World, services: Services) -> None:
    provider = await world.provider()
    path = f"/providers/{provider['id']}/kpis"
    await world.post(path, _kpis(services, 3, missed=40))
    await world.post(path, _kpis(services, 2, missed=0))
    latest = await world.post(path, _kpis(services, 1, missed=40))
    assert latest.json()["monitoring_level"] == "routine"


async def test_three_packages_handed_back_in_30_days_escalate(
    world: World, services: Services
) -> None:
    provider = await world.provider()
    today = services.clock.today()

    def week(ending_days_ago: int, handed_back: int) -> dict[str, Any]:
        end = today - timedelta(days=ending_days_ago)
        return {
            "period_start": (end - timedelta(days=6)).isoformat(),
            "period_end": end.isoformat(),
            "hours_commissioned": 400,
            "hours_delivered": 380,
            "people_supported": 30,
            "packages_handed_back": handed_back,
            "hours_handed_back": 7.5 * handed_back,
        }

    path = f"/providers/{provider['id']}/capacity"
    old = await world.post(path, week(40, 5))  # outside the 30 days
    assert old.json()["monitoring_level"] == "routine"
    assert (await world.post(path, week(20, 2))).json()["monitoring_level"] == "routine"
    moved = await world.post(path, week(6, 1))
    assert moved.json()["monitoring_level"] == "enhanced", moved.text
    (reason,) = moved.json()["escalation"]["reasons"]
    assert reason["detail"] == "3 packages handed back in 30 days"


CM2000 = (
    "Branch Name,Month,Planned Visits,Missed Visits,Late Visits,Time Critical Visits,"
    "Time Critical On Time,Calls Logged In Home\n"
)


async def test_an_import_with_errors_names_each_and_stores_nothing(
    world: World, services: Services, tmp_path: Path
) -> None:
    await world.provider(name="Harbour Home Care Ltd")
    file = tmp_path / "cm2000.csv"
    file.write_text(
        CM2000
        + "Harbour Home Care Ltd,September 2026,1000,40,10,50,49,900\n"
        + ",,,,,,,\n"
        + "Harbour Home Care Ltd,31/02/2026,1000,10,10,,,900\n"
        + "Nobody Care,2026-10,1000,10,10,,,900\n"
        + "Harbour Home Care Ltd,10/2026,1000,ten,10,,,900\n"
        + "Harbour Home Care Ltd,2026-08,100,10,95,,,80\n"
    )
    ctx = factories.context(services)
    report = await run_import(services.database, "kpis", file, ctx, services.kpis)
    assert report.rows == 5 and report.stored == 1
    assert report.errors == [
        "row 4, month: '31/02/2026' is not a month (e.g. 2026-10 or October 2026)",
        "row 5, provider: 'Nobody Care' is not a provider's name",
        "row 6, visits_missed: must be a whole number",
        "row 7, visits_late: cannot be more than the visits made",
    ]
    assert "nothing stored" in report.lines()[-1]
    provider_id = (await world.get("/providers")).json()["items"][0]["id"]
    assert (await world.get(f"/providers/{provider_id}/kpis")).json()["total"] == 0


async def test_a_clean_import_stores_every_row_and_the_rules_follow(
    world: World, services: Services, tmp_path: Path
) -> None:
    provider = await world.provider(name="Harbour Home Care Ltd")
    file = tmp_path / "cm2000.csv"
    rows = [
        f"Harbour Home Care Ltd,{_month(services, back)[:7]},1000,{missed},10,,,900\n"
        for back, missed in ((3, 5), (2, 30), (1, 35))
    ]
    file.write_text(CM2000 + "".join(rows))
    ctx = factories.context(services)
    dry = await run_import(services.database, "kpis", file, ctx, services.kpis, dry_run=True)
    assert dry.errors == [] and dry.stored == 3
    assert (await world.get(f"/providers/{provider['id']}/kpis")).json()["total"] == 0
    report = await run_import(services.database, "kpis", file, ctx, services.kpis)
    assert report.errors == [] and report.stored == 3
    assert "red on missed visits 2 months running" in report.escalations[0]
    assert (await world.get(f"/providers/{provider['id']}")).json()[
        "monitoring_level"
    ] == "enhanced"
    twice = await run_import(services.database, "kpis", file, ctx, services.kpis)
    assert len(twice.errors) == 3 and "already stored" in twice.errors[0]


async def test_capacity_and_waiting_lists_import_from_csv(
    world: World, services: Services, tmp_path: Path
) -> None:
    provider = await world.provider(name="Harbour Home Care Ltd")
    capacity = tmp_path / "capacity.csv"
    capacity.write_text(
        "Provider,Week Starting,Week Ending,Hours Commissioned,Hours Delivered,People Supported,"
        "Handed Back,Hours Handed Back\n"
        'Harbour Home Care Ltd,2 Nov 2026,8/11/2026,"1,200",1150,80,1,10\n'
    )
    ctx = factories.context(services)
    report = await run_import(services.database, "capacity", capacity, ctx, services.kpis)
    assert report.errors == [] and report.stored == 1
    (stored,) = (await world.get(f"/providers/{provider['id']}/capacity")).json()["items"]
    assert (stored["hours_commissioned"], stored["period_start"]) == (1200, "2026-11-02")
    waiting = tmp_path / "waiting.csv"
    waiting.write_text(
        "Locality,As At,People Waiting,Hours Waiting\n"
        "North,1/11/2026,8,60\nAtlantis,1/11/2026,1,1\n"
    )
    report = await run_import(services.database, "capacity", waiting, ctx, services.kpis)
    assert report.errors == ["row 3, locality: 'Atlantis' is not on the list"]
    missing = tmp_path / "missing.csv"
    missing.write_text("Provider,Week Ending\nHarbour Home Care Ltd,8/11/2026\n")
    report = await run_import(services.database, "capacity", missing, ctx, services.kpis)
    assert "missing.csv: no column for period_start" in report.errors


def test_dates_are_read_day_first() -> None:
    assert parse_day("1/12/2026") == parse_day("01-12-2026") == date(2026, 12, 1)
    assert parse_day("2026-12-01") == parse_day("1 Dec 2026") == date(2026, 12, 1)
    assert parse_month("October 2026") == parse_month("10/2026") == date(2026, 10, 1)
    assert parse_month("2026-10") == parse_month("15/10/2026") == date(2026, 10, 1)
    for wrong in ("31/02/2026", "12/31/2026", "soon"):
        with pytest.raises(ValueError, match="is not a date"):
            parse_day(wrong)


def test_the_kpi_thresholds_file_is_validated(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = load_kpis(root / "alerts/kpis.yaml")
    assert shipped.missed_visits.band(2.0) == "green" and shipped.missed_visits.band(2.1) == "red"
    assert shipped.punctuality.band(80) == "amber" and shipped.punctuality.band(74.9) == "red"
    path = tmp_path / "kpis.yaml"
    path.write_text(
        "measures:\n  missed_visits: {better: lower, green: 5, amber: 2}\n"
        "  punctuality: {better: higher, green: 90}\n"
        "  calls_logged: {better: sideways, green: 85}\n"
    )
    with pytest.raises(ConfigFileError) as raised:
        load_kpis(path)
    message = str(raised.value)
    assert "measures.missed_visits: amber must be at or above green" in message
    assert "measures.calls_logged.better: Input should be 'lower' or 'higher'" in message
