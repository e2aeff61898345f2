"""The routes file (alerts/routes.yaml): which event types go to whom.

A recipient is `contract_officer` (the provider's officer), `role:<role>` (every active
user with that role) or `mailbox:<name>` (a named mailbox: `safeguarding` is
CAREWATCH_SAFEGUARDING_EMAIL; others are listed under `mailboxes:` in the file). A route's
`channel` is email (the default) or sms (text messages to people's mobile numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from app.config_files import ConfigFileError, describe_errors, load_yaml
from app.events import EVENT_TYPES
from app.models.base import Role


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    events: list[str] = Field(min_length=1)
    to: list[str] = Field(min_length=1)
    # Only events whose data has these values (e.g. {direction: down}) take this route.
    when: dict[str, str] = Field(default_factory=dict)
    # email, or sms: a text message to each recipient's mobile number (users without
    # one are not texted). Texts go through GOV.UK Notify.
    channel: Literal["email", "sms"] = "email"

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        for event_type in events:
            if event_type not in EVENT_TYPES:
                raise ValueError(f"unknown event type {event_type!r}")
        return events

    @field_validator("to")
    @classmethod
    def _recipient_forms(cls, recipients: list[str]) -> list[str]:
        for recipient in recipients:
            if recipient == "contract_officer":
                continue
            kind, _, name = recipient.partition(":")
            if kind == "role" and name in Role.__members__:
                continue
            if kind == "mailbox" and name:
                continue
            raise ValueError(
                f"recipient {recipient!r} must be contract_officer, role:<"
                + "|".join(Role.__members__)
                + ">, or mailbox:<name>"
            )
        return recipients

    @model_validator(mode="after")
    def _texts_go_to_people(self) -> Route:
        if self.channel == "sms" and any(r.startswith("mailbox:") for r in self.to):
            raise ValueError("a text message goes to people (contract_officer, role:<role>)")
        return self

    def matches(self, event_type: str, data: dict[str, Any]) -> bool:
        return event_type in self.events and all(
            str(data.get(key)) == value for key, value in self.when.items()
        )


class RouteTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailboxes: dict[str, EmailStr] = Field(default_factory=dict)
    routes: list[Route]

    @model_validator(mode="after")
    def _consistent(self) -> RouteTable:
        ids: set[str] = set()
        for route in self.routes:
            if route.id in ids:
                raise ValueError(f"route id {route.id!r} is used twice")
            ids.add(route.id)
            for recipient in route.to:
                kind, _, name = recipient.partition(":")
                if kind == "mailbox" and name != "safeguarding" and name not in self.mailboxes:
                    raise ValueError(
                        f"route {route.id!r}: mailbox {name!r} is not listed under mailboxes"
                    )
        return self

    def may_route(self, event_type: str) -> bool:
        """Whether any route names this event type (its `when` aside)."""
        return any(event_type in route.events for route in self.routes)

    def recipients_for(
        self, event_type: str, data: dict[str, Any], channel: str = "email"
    ) -> list[str]:
        found: list[str] = []
        for route in self.routes:
            if route.channel == channel and route.matches(event_type, data):
                found.extend(r for r in route.to if r not in found)
        return found


def load_routes(path: Path) -> RouteTable:
    raw = load_yaml(path)
    try:
        return RouteTable.model_validate(raw)
    except ValidationError as error:
        raise ConfigFileError(describe_errors(path, error, raw, "routes")) from None
