"""The import page through HTTP (upload, preview, confirm) as an admin, refused to
everyone else; the blank tracker's download; and the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.config import Settings
from app.imports.columns import KINDS
from app.models import Delivery, Provider, Safeguarding
from app.services import Services
from tests.conftest import ROOT, World
from tests.imports.test_tracker import messy_tracker
from tests.web.conftest import SignIn, csrf_of, signed_in

__all__ = ["signed_in"]  # the fixture, from the web pages' conftest
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"import_dir": tmp_path / "imports"})


async def providers(services: Services) -> int:
    async with services.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Provider)) or 0)


async def test_an_admin_uploads_previews_and_confirms(
    world: World, services: Services, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/import")
    assert page.status_code == 200 and "Download the blank tracker" in page.text
    data = messy_tracker(services, officer=world.users["officer"].email, bad=False)
    preview = await admin.post(
        "/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"tracker": ("tracker.xlsx", data, XLSX)},
    )
    assert preview.status_code == 200, preview.text
    assert "What the import would do: tracker.xlsx" in preview.text
    assert "<strong>Moorland Care</strong>: from routine to enhanced monitoring" in preview.text
    assert await providers(services) == 0
    token = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert token is not None
    done = await admin.post(
        "/import/confirm", data={"csrf_token": csrf_of(preview.text), "token": token[1]}
    )
    assert done.status_code == 303 and done.headers["location"] == "/import"
    banner = await admin.get("/import")
    assert "tracker.xlsx imported: 13 new records, 1 provider moved" in banner.text
    assert await providers(services) == 2
    again = await admin.post(
        "/import/confirm", data={"csrf_token": csrf_of(preview.text), "token": token[1]}
    )
    assert again.status_code == 400 and "already been imported" in again.text


async def test_a_tracker_with_errors_is_refused_with_each_named(
    world: World, services: Services, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/import")
    data = messy_tracker(services, officer=world.users["officer"].email, bad=True)
    preview = await admin.post(
        "/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"tracker": ("tracker.xlsx", data, XLSX)},
    )
    assert preview.status_code == 400
    assert "govuk-error-summary" in preview.text and "Confirm the import" not in preview.text
    assert "Safeguardings row 6, Raised: &#39;31/02/2025&#39; is not a date" in preview.text
    empty = await admin.post("/import", data={"csrf_token": csrf_of(page.text)})
    assert empty.status_code == 400 and "Choose the tracker file to import" in empty.text
    junk = await admin.post(
        "/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"tracker": ("tracker.xlsx", b"not a workbook", XLSX)},
    )
    assert junk.status_code == 400 and "could not be read as a workbook" in junk.text
    assert await providers(services) == 0


async def test_only_an_admin_may_import(world: World, signed_in: SignIn) -> None:
    for role in ("manager", "officer", "safeguarding", "viewer"):
        client = await signed_in(role)
        assert (await client.get("/import")).status_code == 403
        assert (await client.get("/import/template.xlsx")).status_code == 403
        page = await client.get("/")
        refused = await client.post(
            "/import",
            data={"csrf_token": csrf_of(page.text)},
            files={"tracker": ("tracker.xlsx", b"x", XLSX)},
        )
        assert refused.status_code == 403


async def test_the_blank_tracker_has_every_heading_and_a_notes_sheet(
    world: World, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    download = await admin.get("/import/template.xlsx")
    assert download.status_code == 200 and download.headers["content-type"] == XLSX
    book = load_workbook(BytesIO(download.content), read_only=True)
    assert book.sheetnames == [*(kind.sheet for kind in KINDS), "Notes"]
    safeguardings = next(book["Safeguardings"].iter_rows(values_only=True))
    assert safeguardings[:4] == ("Provider", "CQC provider ID", "Raised", "Reference")
    notes = list(book["Notes"].iter_rows(values_only=True))
    assert notes[next(i for i, row in enumerate(notes) if row[:2] == ("Safeguardings", "Raised"))][
        :4
    ] == ("Safeguardings", "Raised", "yes", "The day the concern was raised")


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWATCH_")}
    env.update(
        CAREWATCH_DATABASE_URL=settings.database_url,
        CAREWATCH_OUTBOX_DIR=str(settings.outbox_dir),
        CAREWATCH_SCHEDULER_ENABLED="false",
    )
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_line_dry_run_then_import(
    world: World, services: Services, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "tracker.xlsx"
    file.write_bytes(messy_tracker(services, officer=world.users["officer"].email, bad=False))
    dry = cli(settings, "import", str(file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Safeguardings: 4 new, 0 already held, 0 in error" in dry.stdout
    assert dry.stdout.strip().endswith("dry run: nothing stored")
    assert await providers(services) == 0
    real = cli(settings, "import", str(file))
    assert real.returncode == 0 and "stored 13 new record(s)" in real.stdout
    again = cli(settings, "import", str(file))
    assert again.returncode == 0 and "stored 0 new record(s)" in again.stdout
    async with services.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Safeguarding)) == 4
        deliveries = (await session.execute(select(Delivery.event_type))).scalars().all()
    assert deliveries == ["import.completed"]  # one manager, one summary, once
    bad = tmp_path / "visits.csv"
    bad.write_text(
        "Provider,Visit date,Type,Purpose,Outcome\nMoorland Care,1/13/2026,Phone,x,Good\n"
    )
    refused = cli(settings, "import", str(bad))
    assert refused.returncode == 1
    assert "Visits row 2, Visit date: '1/13/2026' is not a date" in refused.stderr
    template = tmp_path / "blank.xlsx"
    assert cli(settings, "import-template", "--out", str(template)).returncode == 0
    assert load_workbook(template, read_only=True).sheetnames[-1] == "Notes"
