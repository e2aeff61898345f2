"""The command line: python -m app serve | migrate | demo | users create | rules check |
dispatch | import | import-template | import-kpis | import-capacity | report quarterly."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from app.config import Settings, load_settings


def _settings() -> Settings:
    return load_settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.config_files import ConfigFileError
    from app.main import create_app

    settings = _settings()
    try:
        app = create_app(settings)
    except ConfigFileError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    # What exists now (modules, routes, models, the rule set) lives as long as the
    # process: freezing it keeps the collector from scanning it again and again, a tenth
    # of a millisecond of every write request (docs/PERFORMANCE.md).
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        log_config=None,  # our handlers (app.logs), not uvicorn's
    )
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from app.migrations import upgrade_once

    settings = _settings()
    asyncio.run(upgrade_once(settings.database_url))
    print("database is at the newest migration")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """The container's entrypoint: wait for the database, migrate once, serve."""
    from app.migrations import upgrade_once, wait_for_database

    settings = _settings()
    try:
        asyncio.run(wait_for_database(settings.database_url, args.wait_seconds))
    except Exception as error:
        print(f"the database did not answer: {type(error).__name__}", file=sys.stderr)
        return 3
    asyncio.run(upgrade_once(settings.database_url))
    return cmd_serve(args)


def _read_password(from_stdin: bool) -> str | None:
    """The new user's password: typed at the terminal, hidden, twice; or the first line
    of standard input when that is not a terminal (or with --password-stdin)."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password for the new user: ")
    if getpass.getpass("The same password again: ") != first:
        print("the two passwords differ; nothing was created", file=sys.stderr)
        return None
    return first


SchemaState = Literal["ready", "unreachable", "new", "behind"]
SCHEMA_ADVICE: dict[SchemaState, str] = {
    "ready": "",
    "unreachable": "the database did not answer: is it running, and is "
    "CAREWATCH_DATABASE_URL right?",
    "new": "the database has not been set up: run `make migrate` (python -m app migrate)",
    "behind": "the database is at an older migration: run `make migrate` (python -m app migrate)",
}


async def _schema_state(database_url: str) -> SchemaState:
    """Whether the database answers and is at the newest migration."""
    from app.db import make_engine
    from app.migrations import current_revision, head_revision

    engine = make_engine(database_url, pool_size=1)
    try:
        revision = await current_revision(engine)
    except Exception:
        return "unreachable"
    finally:
        await engine.dispose()
    if revision is None:
        return "new"
    return "ready" if revision == head_revision() else "behind"


def cmd_users_create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.auth.service import UserIn, create_user
    from app.clock import SystemClock
    from app.db import Database
    from app.errors import DomainError
    from app.events import Actor
    from app.services import build_services

    settings = _settings()
    state = asyncio.run(_schema_state(settings.database_url))
    if state != "ready":
        print(f"cannot create the user: {SCHEMA_ADVICE[state]}", file=sys.stderr)
        return 2
    password = _read_password(args.password_stdin)
    if not password:
        print("no password given: type it when asked, or on standard input", file=sys.stderr)
        return 2
    name = args.name or args.email.split("@")[0].replace(".", " ").replace("_", " ").title()
    try:
        data = UserIn(email=args.email, name=name, role=args.role, password=password)
    except ValidationError as error:
        for invalid in error.errors():
            print(f"{'.'.join(map(str, invalid['loc']))}: {invalid['msg']}", file=sys.stderr)
        return 2

    async def run() -> int:
        services = build_services(settings, database=Database.from_url(settings.database_url))
        try:
            async with services.database.transaction() as session:
                user = await create_user(
                    session, data, actor=Actor.job("cli"), now=SystemClock().now()
                )
            print(f"created user {user.id}: {user.email} ({user.role})")
            print(f"sign in at {settings.base_url}/login")
            return 0
        except DomainError as error:
            print(f"{error.field}: {error.problem}", file=sys.stderr)
            return 1
        finally:
            await services.database.dispose()

    return asyncio.run(run())


def cmd_rules_check(_args: argparse.Namespace) -> int:
    from app.jobs.rules_check import run_check

    return asyncio.run(run_check(_settings()))


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo council; a database never migrated (or behind) is migrated first,
    so that the demo works from nothing."""
    from app.demo import seed_demo
    from app.migrations import upgrade_once

    settings = _settings()
    state = asyncio.run(_schema_state(settings.database_url))
    if state == "unreachable":
        print(f"cannot seed the demo: {SCHEMA_ADVICE[state]}", file=sys.stderr)
        return 2
    if state != "ready":
        print("migrating the database first")
        asyncio.run(upgrade_once(settings.database_url))
    return asyncio.run(seed_demo(settings, force=args.force))


def cmd_dispatch(_args: argparse.Namespace) -> int:
    from app.services import build_services

    settings = _settings()

    async def run() -> int:
        services = build_services(settings)
        try:
            stats = await services.dispatcher.drain()
            print(
                f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, "
                f"paused {stats.paused}"
            )
            return 0
        finally:
            await services.database.dispose()

    return asyncio.run(run())


def cmd_cqc(args: argparse.Namespace) -> int:
    from app.jobs import tasks
    from app.services import build_services

    settings = _settings()

    async def run() -> int:
        services = build_services(settings)
        try:
            if services.cqc_client is None:
                from app.cqc.sync import disabled_reason

                print(disabled_reason(settings), file=sys.stderr)
                return 2
            body = tasks.cqc_sync if args.action == "sync" else tasks.market_benchmark
            outcome = await body(services)
            print(f"CQC {args.action}: {outcome}")
            return 0 if outcome in ("success", "complete") else 1
        finally:
            await services.close()

    return asyncio.run(run())


def _refuse_import(settings: Settings, path: Path) -> int | None:
    """Why an import cannot start (its exit code, having said so), or None."""
    if not path.is_file():
        print(f"{path}: file not found", file=sys.stderr)
        return 2
    state = asyncio.run(_schema_state(settings.database_url))
    if state != "ready":
        print(f"cannot import: {SCHEMA_ADVICE[state]}", file=sys.stderr)
        return 2
    return None


def _print_report(lines: Iterable[str], failed: bool, dry_run: bool) -> int:
    """An import's report, to stderr when it failed; its exit code."""
    for line in lines:
        print(line, file=sys.stderr if failed else sys.stdout)
    if dry_run and not failed:
        print("dry run: nothing stored")
    return 1 if failed else 0


def cmd_import_returns(args: argparse.Namespace) -> int:
    """import-kpis / import-capacity: a CSV through the market's write path."""
    from pathlib import Path

    from app.events import Actor
    from app.market.imports import run_import
    from app.records.service import WriteContext
    from app.services import build_services

    settings = _settings()
    path = Path(args.file)
    refused = _refuse_import(settings, path)
    if refused is not None:
        return refused

    async def run() -> int:
        services = build_services(settings)
        try:
            ctx = WriteContext(
                actor=Actor.job(f"import-{args.kind}"), clock=services.clock, policy=services.policy
            )
            report = await run_import(
                services.database, args.kind, path, ctx, services.kpis, dry_run=args.dry_run
            )
        finally:
            await services.close()
        return _print_report(report.lines(), bool(report.errors), args.dry_run)

    return asyncio.run(run())


def cmd_report(args: argparse.Namespace) -> int:
    """report quarterly --quarter 2026Q3 --out report.pdf: the format from the extension."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from app.events import Actor
    from app.reports import papers, quarterly

    out = Path(args.out)
    file_format = out.suffix.lower().lstrip(".")
    if file_format not in papers.FORMATS:
        print(f"{out}: the file must end in .pdf or .xlsx", file=sys.stderr)
        return 2
    try:
        quarter = quarterly.Quarter.parse(args.quarter)
    except quarterly.QuarterError as error:
        print(f"--quarter: {error}", file=sys.stderr)
        return 2
    settings = _settings()
    state = asyncio.run(_schema_state(settings.database_url))
    if state != "ready":
        print(f"cannot make the report: {SCHEMA_ADVICE[state]}", file=sys.stderr)
        return 2
    zone = ZoneInfo(settings.timezone)

    async def run() -> int:
        from app.services import build_services

        services = build_services(settings)
        try:
            file = await papers.quarterly_file(
                quarterly.ReportServices(
                    services.database, services.clock, services.policy, zone, settings.region
                ),
                quarter,
                file_format,
                actor=Actor.job("cli"),
            )
            await asyncio.to_thread(out.write_bytes, file.body)
        finally:
            await services.close()
        print(f"wrote {out}: {file.title}, {file.period}")
        return 0

    return asyncio.run(run())


def cmd_import(args: argparse.Namespace) -> int:
    """import: the council's tracker (a workbook or CSV) through the write path."""
    from pathlib import Path

    from app.imports.reading import TrackerUnreadable
    from app.imports.service import Importer, run_import
    from app.services import build_services

    settings = _settings()
    path = Path(args.file)
    refused = _refuse_import(settings, path)
    if refused is not None:
        return refused

    async def run() -> int:
        services = build_services(settings)
        try:
            importer = Importer(user_id=None, clock=services.clock, policy=services.policy)
            report = await run_import(
                services.database, path.name, path, importer, dry_run=args.dry_run, kind=args.kind
            )
        except TrackerUnreadable as error:
            print(error, file=sys.stderr)
            return 2
        finally:
            await services.close()
        return _print_report(report.lines(), bool(report.errors), dry_run=False)

    return asyncio.run(run())


def cmd_import_template(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.imports.template import blank_workbook

    Path(args.out).write_bytes(blank_workbook())
    print(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from app.logs import configure_logging

    configure_logging(
        os.environ.get("CAREWATCH_LOG_LEVEL", "INFO"),
        os.environ.get("CAREWATCH_LOG_FORMAT", "text"),
    )
    parser = argparse.ArgumentParser(prog="python -m app", description="carewatch")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=cmd_migrate
    )

    start = commands.add_parser("start", help="wait for the database, migrate, then serve")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=8000)
    start.add_argument("--wait-seconds", type=float, default=60.0)
    start.set_defaults(handler=cmd_start)

    demo = commands.add_parser("demo", help="seed a realistic demo council")
    demo.add_argument("--force", action="store_true", help="seed even if the database holds data")
    demo.set_defaults(handler=cmd_demo)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", help="shown on pages (default: from the email address)")
    create.add_argument(
        "--role", required=True, choices=["admin", "manager", "officer", "safeguarding", "viewer"]
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (the default when it is not a terminal)",
    )
    create.set_defaults(handler=cmd_users_create)

    rules = commands.add_parser("rules", help="escalation rules").add_subparsers(
        dest="action", required=True
    )
    rules.add_parser(
        "check", help="validate rules and routes; show what each rule would do"
    ).set_defaults(handler=cmd_rules_check)

    cqc = commands.add_parser("cqc", help="CQC polling").add_subparsers(
        dest="action", required=True
    )
    cqc.add_parser("sync", help="fetch rating changes now").set_defaults(handler=cmd_cqc)
    cqc.add_parser("benchmark", help="build the national ratings benchmark").set_defaults(
        handler=cmd_cqc
    )

    commands.add_parser("dispatch", help="send every alert due now, then exit").set_defaults(
        handler=cmd_dispatch
    )

    tracker = commands.add_parser(
        "import", help="import the council's tracker (.xlsx, or a .csv of one kind)"
    )
    tracker.add_argument("file", help="a workbook with a sheet per kind, or a CSV of one kind")
    tracker.add_argument(
        "--dry-run", action="store_true", help="check every row, show the result, store nothing"
    )
    tracker.add_argument(
        "--kind",
        choices=[
            "providers",
            "visits",
            "safeguardings",
            "complaints",
            "compliments",
            "financial_checks",
            "concerns",
        ],
        help="what a CSV file holds (default: from its name, e.g. visits.csv)",
    )
    tracker.set_defaults(handler=cmd_import)
    template = commands.add_parser(
        "import-template", help="write a blank tracker workbook with its notes sheet"
    )
    template.add_argument("--out", default="carewatch-tracker.xlsx")
    template.set_defaults(handler=cmd_import_template)

    for kind, what in (
        ("kpis", "providers' monthly call-monitoring figures (CM2000-style columns)"),
        ("capacity", "providers' capacity returns, or localities' waiting lists"),
    ):
        returns = commands.add_parser(f"import-{kind}", help=f"import a CSV of {what}")
        returns.add_argument("file", help="the CSV file (UTF-8, one heading row)")
        returns.add_argument(
            "--dry-run", action="store_true", help="check every row, show the result, store nothing"
        )
        returns.set_defaults(handler=cmd_import_returns, kind=kind)

    report = commands.add_parser("report", help="the papers: the quarterly market report")
    kinds = report.add_subparsers(dest="kind", required=True)
    quarterly_report = kinds.add_parser(
        "quarterly", help="the quarterly market quality report, as PDF or spreadsheet"
    )
    quarterly_report.add_argument(
        "--quarter", required=True, help="a calendar quarter: 2026Q3 is July to September 2026"
    )
    quarterly_report.add_argument(
        "--out", required=True, help="the file to write: .pdf or .xlsx (the format follows)"
    )
    quarterly_report.set_defaults(handler=cmd_report)

    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
