"""The import page (admins): upload the council's tracker, see the dry run's report
(counts, every error, the providers the rules would move), then confirm it; and the
blank tracker to download. The upload is kept under CAREWATCH_IMPORT_DIR between the
preview and its confirmation, so the file confirmed is the file previewed."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app.auth.permissions import Permission
from app.imports.reading import TrackerUnreadable
from app.imports.service import Importer, ImportReport, run_import
from app.imports.template import blank_workbook
from app.services import Services
from app.web.deps import FormDep, ServicesDep, Viewer, redirect, render, require
from app.web.sessions import FLASH_COOKIE, codec, set_cookie

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(require(Permission.manage_users))]

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
TEMPLATE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _importer(viewer: Viewer, services: Services) -> Importer:
    return Importer(user_id=viewer.principal.user.id, clock=services.clock, policy=services.policy)


def _upload_folder(services: Services, viewer: Viewer, token: str) -> Path:
    # The folder names its uploader: one admin cannot confirm another's upload.
    return services.settings.import_dir / f"{viewer.principal.user.id}-{token}"


def _safe_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename).name).strip(" .")
    return name or "tracker.xlsx"


def _page(
    request: Request,
    viewer: Viewer,
    *,
    report: ImportReport | None = None,
    token: str | None = None,
    problem: str | None = None,
    flash: Any = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "import.html",
        {"report": report, "token": token, "problem": problem, "flash": flash},
        viewer=viewer,
        status=status,
    )


@router.get("/import")
async def import_page(request: Request, viewer: Admin, services: ServicesDep) -> Response:
    flash = codec(services).load_flash(request.cookies.get(FLASH_COOKIE))
    response = _page(request, viewer, flash=flash)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


@router.get("/import/template.xlsx")
async def import_template(viewer: Admin) -> Response:
    return Response(
        blank_workbook(),
        media_type=TEMPLATE_TYPE,
        headers={"Content-Disposition": 'attachment; filename="carewatch-tracker.xlsx"'},
    )


@router.post("/import")
async def upload(request: Request, viewer: Admin, form: FormDep, services: ServicesDep) -> Response:
    """Keep the upload and show its dry run; confirming imports exactly this file."""
    upload = (await request.form()).get("tracker")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, viewer, problem="Choose the tracker file to import", status=400)
    content = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        return _page(request, viewer, problem="The file must be smaller than 50 MB", status=400)
    token = secrets.token_urlsafe(18)
    folder = _upload_folder(services, viewer, token)
    folder.mkdir(parents=True)
    path = folder / _safe_name(upload.filename)
    path.write_bytes(content)
    try:
        report = await run_import(
            services.database, path.name, path, _importer(viewer, services), dry_run=True
        )
    except TrackerUnreadable as error:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(request, viewer, problem=str(error), status=400)
    if report.errors:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(request, viewer, report=report, status=400)
    return _page(request, viewer, report=report, token=token)


@router.post("/import/confirm")
async def confirm(
    request: Request, viewer: Admin, form: FormDep, services: ServicesDep
) -> Response:
    token = form.get("token", "")
    folder = _upload_folder(services, viewer, token) if _TOKEN.match(token) else None
    files = sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []
    if not files:
        return _page(
            request,
            viewer,
            problem="This upload has already been imported or has expired: upload it again",
            status=400,
        )
    report = await run_import(
        services.database, files[0].name, files[0], _importer(viewer, services), dry_run=False
    )
    if report.errors:  # the data changed since the preview
        return _page(request, viewer, report=report, status=400)
    assert folder is not None
    shutil.rmtree(folder, ignore_errors=True)
    moved = len(report.moves)
    message = (
        f"{report.file} imported: {report.added} new record"
        f"{'' if report.added == 1 else 's'}, {moved} provider{'' if moved == 1 else 's'} moved"
    )
    response = redirect("/import")
    set_cookie(
        request,
        response,
        FLASH_COOKIE,
        codec(services).dump_flash({"message": message, "escalation": None}),
        max_age=120,
    )
    return response
