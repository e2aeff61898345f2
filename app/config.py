"""Settings: every CAREWATCH_* variable (or .env entry), validated once at start-up.

Nothing here is created at import time; `Settings()` is built by the CLI or by tests and
passed to `create_app(settings)`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/carewatch.db"
DEVELOPMENT_SECRET = "development-only-secret-key-change-me"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# CQC's regions of England, spelt as in a location's `region` (matched in any case).
CQC_REGIONS = (
    "East",
    "East Midlands",
    "London",
    "North East",
    "North West",
    "South East",
    "South West",
    "West Midlands",
    "Yorkshire and The Humber",
)
NOTIFY_KEY = re.compile(rf".+-({_UUID})-({_UUID})", re.IGNORECASE)


class Settings(BaseSettings):
    """The service's configuration; secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(
        env_prefix="CAREWATCH_", env_file=".env", extra="ignore", validate_default=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    base_url: str = "http://127.0.0.1:8000"
    # The council's time zone: the times pages show (stored instants stay UTC).
    timezone: str = "Europe/London"
    token_ttl_minutes: int = Field(default=480, ge=5, le=60 * 24 * 30)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Failed sign-ins allowed in a moving window before sign-in is refused: per account
    # (from anywhere), per account from one address, and per address, high enough for a
    # whole office behind one NAT address. A correct password never counts.
    login_failures_per_account: int = Field(default=10, ge=1, le=1000)
    login_failures_per_account_address: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=100, ge=1, le=100000)
    login_failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: EmailStr = "carewatch@localhost.localdomain"
    outbox_dir: Path = Path("./var/outbox")
    # Trackers uploaded on /import, kept from the preview to its confirmation (a volume
    # every web replica shares, past one machine).
    import_dir: Path = Path("./var/imports")
    safeguarding_email: EmailStr = "safeguarding@localhost.localdomain"

    # GOV.UK Notify (docs/DEPLOY.md): emails when CAREWATCH_EMAIL_CHANNEL=notify, and
    # every text message. The key is Notify's: name, service id and secret.
    email_channel: Literal["smtp", "notify"] = "smtp"
    notify_api_key: SecretStr | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_email_template_id: str | None = None
    notify_sms_template_id: str | None = None
    notify_callback_token: SecretStr | None = None
    # Notify allows 3,000 requests a minute per key; we stay under it on our side.
    notify_requests_per_minute: int = Field(default=2850, ge=1, le=3000)
    notify_timeout_seconds: float = Field(default=10.0, gt=0)

    alerts_dir: Path = Path("./alerts")
    dispatcher_enabled: bool = True
    dispatch_sweep_seconds: float = Field(default=5.0, gt=0)
    delivery_lease_seconds: int = Field(default=120, ge=10)

    cqc_base_url: str = "https://api.service.cqc.org.uk/public/v1"
    cqc_api_key: SecretStr | None = None
    cqc_partner_code: str | None = None
    cqc_sync_interval: int = Field(default=3600, ge=60, description="seconds between syncs")
    cqc_requests_per_minute: int = Field(default=600, ge=1, le=2000)
    cqc_timeout_seconds: float = Field(default=30.0, gt=0)
    cqc_window_overlap_minutes: int = Field(default=60, ge=0, le=1440)
    scheduler_enabled: bool = True

    # Safeguarding access records are kept this long (the database refuses to delete any
    # row younger than six years, so less is not possible).
    audit_retention_days: int = Field(default=2190, ge=2190, le=36500)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr | None = None

    # Sign-in with the council's OpenID Connect provider (README: registering in Entra ID).
    # The issuer is tenant-specific: discovery is read from its
    # /.well-known/openid-configuration, and every ID token's `iss` must equal it.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    oidc_roles_claim: str = "roles"
    # The provider's role values (Entra app roles) to carewatch roles, as JSON.
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    # Named on the page refusing someone whose account has no carewatch role.
    oidc_access_contact: str = "your carewatch administrator"
    # The council's directory provisions and deactivates accounts at /scim/v2 with this
    # bearer token; without one, SCIM is off.
    scim_token: SecretStr | None = None
    # False: sign-in is only through the council's account (personal API tokens still work).
    password_login: bool = True
    # The council's CQC region, as CQC names it: the quarterly report sets our providers'
    # ratings beside this region's (from the market benchmark) as well as England's.
    region: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for region in CQC_REGIONS:
            if region.lower() == value.strip().lower():
                return region
        # Not refused: CQC may spell a region otherwise; the report says when the
        # national figures hold no region of this name.
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name such as Europe/London") from None
        return value

    @field_validator(
        "smtp_host",
        "smtp_username",
        "cqc_partner_code",
        "notify_api_key",
        "notify_email_template_id",
        "notify_sms_template_id",
        "notify_callback_token",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "scim_token",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _role_map_from_json(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError(
                    'must be a JSON object such as {"Carewatch.Officer": "officer"}'
                ) from None
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"admin", "manager", "officer", "safeguarding", "viewer"}
        wrong = sorted(role for role in value.values() if role not in known)
        if wrong:
            raise ValueError(
                f"maps to {', '.join(wrong)}: each value must be one of {', '.join(sorted(known))}"
            )
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _tenant_issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be an https:// URL")
        # Entra's multi-tenant issuers name no tenant, so no ID token's `iss` can match
        # them (authlib issue 605): the council's own tenant id is needed.
        if re.search(r"/(common|organizations|consumers)(/|$)", value):
            raise ValueError(
                "must be your tenant's issuer (https://login.microsoftonline.com/<tenant"
                " id>/v2.0), not the multi-tenant common, organizations or consumers one"
            )
        return value  # exactly as the provider writes it: `iss` is compared as a string

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "CAREWATCH_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError(
                "CAREWATCH_SMTP_TLS and CAREWATCH_SMTP_STARTTLS are exclusive: choose one"
            )
        if self.notify_api_key is not None and not NOTIFY_KEY.fullmatch(
            self.notify_api_key.get_secret_value()
        ):
            raise ValueError(
                "CAREWATCH_NOTIFY_API_KEY must be a Notify API key: its name, then the"
                " service id and the secret (two 36-character ids), joined by hyphens"
            )
        if self.email_channel == "notify":
            missing = [
                name
                for name, value in (
                    ("CAREWATCH_NOTIFY_API_KEY", self.notify_api_key),
                    ("CAREWATCH_NOTIFY_EMAIL_TEMPLATE_ID", self.notify_email_template_id),
                )
                if value is None
            ]
            if missing:
                raise ValueError("CAREWATCH_EMAIL_CHANNEL=notify needs " + " and ".join(missing))
        if self.notify_sms_template_id is not None and self.notify_api_key is None:
            raise ValueError("CAREWATCH_NOTIFY_SMS_TEMPLATE_ID needs CAREWATCH_NOTIFY_API_KEY")
        if self.oidc_issuer is not None and self.oidc_client_id is None:
            raise ValueError("CAREWATCH_OIDC_ISSUER needs CAREWATCH_OIDC_CLIENT_ID")
        if self.oidc_issuer is not None and "openid" not in self.oidc_scopes.split():
            raise ValueError("CAREWATCH_OIDC_SCOPES must include openid")
        if not self.password_login and self.oidc_issuer is None:
            raise ValueError(
                "CAREWATCH_PASSWORD_LOGIN=false needs CAREWATCH_OIDC_ISSUER: nobody could sign in"
            )
        if self.scim_token is not None and len(self.scim_token.get_secret_value()) < 32:
            raise ValueError("CAREWATCH_SCIM_TOKEN must be a random value of 32+ characters")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def texts_enabled(self) -> bool:
        """Text messages go through Notify: they need its key and an SMS template."""
        return self.notify_api_key is not None and self.notify_sms_template_id is not None

    @property
    def emails_via_smtp(self) -> bool:
        return self.smtp_host is not None

    @property
    def cqc_polling_enabled(self) -> bool:
        return self.cqc_api_key is not None and bool(self.cqc_api_key.get_secret_value())


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning a validation error into one clear message."""
    from pydantic import ValidationError

    try:
        return Settings.model_validate(overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "settings"
            name = f"CAREWATCH_{field.upper()}" if problem["loc"] else "settings"
            lines.append(f"{name}: {problem['msg']}")
        raise SystemExit("invalid configuration:\n  " + "\n  ".join(lines)) from None
