"""What each role may do. Routes ask for a permission, never for a role, so the rules
live in this one table."""

from __future__ import annotations

from enum import StrEnum

from app.models.base import Role


class Permission(StrEnum):
    read = "read"
    read_safeguarding_detail = "read_safeguarding_detail"
    write_records = "write_records"
    write_safeguardings = "write_safeguardings"
    manage_providers = "manage_providers"
    manage_monitoring = "manage_monitoring"
    manage_users = "manage_users"
    read_metrics = "read_metrics"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.manager: frozenset(Permission) - {Permission.manage_users},
    Role.officer: frozenset(
        {
            Permission.read,
            Permission.read_safeguarding_detail,
            Permission.write_records,
            Permission.write_safeguardings,
            Permission.manage_providers,
        }
    ),
    Role.safeguarding: frozenset(
        {
            Permission.read,
            Permission.read_safeguarding_detail,
            Permission.write_safeguardings,
        }
    ),
    Role.viewer: frozenset({Permission.read}),
}

WRITE_PERMISSIONS = frozenset(
    {
        Permission.write_records,
        Permission.write_safeguardings,
        Permission.manage_providers,
        Permission.manage_monitoring,
        Permission.manage_users,
    }
)

# A personal token's scope narrows its owner's role.
SCOPE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "read": frozenset({Permission.read, Permission.read_safeguarding_detail}),
    "write": frozenset(Permission) - {Permission.read_metrics},
    "metrics": frozenset({Permission.read_metrics}),
}


def permissions_for(role: Role, scope: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role] & SCOPE_PERMISSIONS.get(scope, frozenset())
