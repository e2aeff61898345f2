"""`python -m app rules check`: validate the rules and routes files, then show, against
the current database, which providers each rule would move and to which level. Changes
nothing."""

from __future__ import annotations

import sys

from sqlalchemy import select

from app.alerting.routes import load_routes
from app.clock import SystemClock
from app.config import Settings
from app.config_files import ConfigFileError
from app.db import Database
from app.market.kpis import load_kpis
from app.migrations import current_revision
from app.models import Provider
from app.models.base import LEVEL_RANK, MonitoringLevel
from app.monitoring.escalation import current_firings
from app.monitoring.policy import MonitoringPolicy
from app.rules.catalogue import load_rules


async def run_check(settings: Settings, out: object = None) -> int:
    write = (lambda text: print(text, file=out)) if out is not None else print
    problems = []
    rules = routes = None
    try:
        rules = load_rules(settings.alerts_dir / "rules.yaml")
    except ConfigFileError as error:
        problems.append(str(error))
    try:
        routes = load_routes(settings.alerts_dir / "routes.yaml")
    except ConfigFileError as error:
        problems.append(str(error))
    try:
        load_kpis(settings.alerts_dir / "kpis.yaml")
    except ConfigFileError as error:
        problems.append(str(error))
    if problems or rules is None or routes is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    write(
        f"rules: {len(rules.rules)} valid; routes: {len(routes.routes)} valid; "
        "KPI thresholds: valid"
    )
    database = Database.from_url(settings.database_url)
    try:
        if await current_revision(database.engine) is None:
            write("database not migrated yet: nothing to evaluate")
            return 0
        async with database.sessions() as session:
            policy = MonitoringPolicy(rules=rules)
            firings = await current_firings(
                session, policy, SystemClock(settings.timezone).today(), None
            )
            providers = {p.id: p for p in (await session.execute(select(Provider))).scalars()}
            for rule in rules.rules:
                moved = []
                for provider_id, fired in firings.items():
                    provider = providers[provider_id]
                    current = MonitoringLevel(provider.monitoring_level)
                    for firing in fired:
                        if firing.rule_id == rule.id:
                            would = LEVEL_RANK[firing.level] > LEVEL_RANK[current]
                            moved.append(
                                f"    {provider.name} (#{provider_id}): "
                                + (
                                    f"{current.value} -> {firing.level.value}"
                                    if would
                                    else f"stays {current.value}"
                                )
                                + f" [{firing.as_reason()['detail']}]"
                            )
                write(f"{rule.id} -> {rule.escalate_to}: fires for {len(moved)} provider(s)")
                for line in moved:
                    write(line)
            await session.rollback()
    finally:
        await database.dispose()
    return 0
