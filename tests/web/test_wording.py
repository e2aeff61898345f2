"""Words for officers on the main pages, as each role sees them: no field or signal names
(snake_case), no ISO dates and no rule ids in what a page shows, as the email scan in
tests/alerting/test_recipients.py holds for emails. Only the text a person reads is
scanned: tags, their attributes (links, form field names) and scripts are not."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from app.services import Services
from tests import factories
from tests.conftest import World
from tests.web.conftest import SignIn

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
FIELD_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def shown_text(page: str) -> str:
    """The words a person reads in the page's main content."""
    main = page.split('id="main-content"', 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<script\b.*?</script>", " ", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


async def _council_week(world: World, services: Services) -> dict[str, str]:
    """A provider with a record of every kind, in intensive monitoring with its reasons,
    and the pages about it."""
    provider = await world.provider(name="Harbour Home Care Ltd", localities=["North"])
    pid = provider["id"]
    visit = await factories.write(
        services, "visit", pid, visited_on=date(2026, 11, 2), outcome="serious_concerns"
    )
    added = await world.post(
        f"/visits/{visit.record.id}/actions",
        {"action": "Send the rota", "owner": "Registered manager", "due_on": "2026-11-10"},
    )
    assert added.status_code == 201, added.text
    safeguarding = await factories.write(
        services, "safeguarding", pid, reference="SG-42", category="financial_or_material"
    )
    complaint = await factories.write(services, "complaint", pid)
    closed = await world.patch(
        f"/complaints/{complaint.record.id}", {"status": "closed", "upheld": "partly_upheld"}
    )
    assert closed.status_code == 200, closed.text
    concern = await factories.write(
        services, "concern", pid, description="Calls missed", whole_service=True
    )
    compliment = await factories.write(services, "compliment", pid)
    financial = await factories.write(services, "financial", pid)
    return {
        "dashboard": "/",
        "provider": f"/providers/{pid}",
        "visit": f"/visits/{visit.record.id}",
        "safeguarding": f"/safeguardings/{safeguarding.record.id}",
        "complaint": f"/complaints/{complaint.record.id}",
        "concern": f"/concerns/{concern.record.id}",
        "compliment": f"/compliments/{compliment.record.id}",
        "financial": f"/financial-assurances/{financial.record.id}",
        "my work": "/my-work",
        "localities": "/localities",
        "users": "/users",
    }


@pytest.mark.parametrize("role", ["viewer", "officer", "safeguarding", "manager", "admin"])
async def test_the_main_pages_speak_in_officers_words(
    role: str, world: World, signed_in: SignIn, services: Services
) -> None:
    pages = await _council_week(world, services)
    rule_ids = [rule.id for rule in services.policy.rules.rules]
    browser = await signed_in(role)
    scanned = 0
    for name, path in pages.items():
        response = await browser.get(path)
        if response.status_code == 403:  # /users is for admins
            continue
        assert response.status_code == 200, (name, response.text)
        text = shown_text(response.text)
        assert not ISO_DATE.search(text), (name, ISO_DATE.findall(text))
        assert not FIELD_NAME.search(text), (name, FIELD_NAME.findall(text))
        assert not [rule for rule in rule_ids if rule in text], name
        scanned += 1
    assert scanned >= len(pages) - 1
