"""Who may manage which accounts: within their own jurisdiction, granting no role above their own."""

from __future__ import annotations

from collections.abc import Iterable

from emplan_shared.auth import Principal, Role
from emplan_shared.errors import Forbidden, NotFound, ProblemItem, RefusedRegion, UnprocessableEntity

# Roles each manager role may hand out. A system admin may grant any role (their own included, to
# a region inside their jurisdiction); a bureau planner creates its departments' reporters and
# read-only viewers. Nobody else manages accounts.
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.system_admin: frozenset(Role),
    Role.bureau_planner: frozenset({Role.department_reporter, Role.viewer}),
}
ACCOUNT_MANAGERS = (Role.system_admin, Role.bureau_planner)
CLIENT_MANAGERS = (Role.system_admin,)


def grantable(principal: Principal) -> frozenset[Role]:
    roles: set[Role] = set()
    for role in principal.roles:
        roles |= GRANTABLE.get(role, frozenset())
    return frozenset(roles)


def check_roles(principal: Principal, roles: Iterable[Role | str], *, field: str = "body.roles") -> None:
    allowed = grantable(principal)
    refused = sorted(str(role) for role in roles if Role(role) not in allowed)
    if refused:
        raise Forbidden(
            f"无权授予角色：{'、'.join(refused)}",
            code="role_not_grantable",
            errors=[ProblemItem(field=field, detail=f"不可授予 {r}") for r in refused],
        )


def check_region(principal: Principal, region_code: str, *, field: str = "body.region_code") -> None:
    """An account or client placed outside the caller's jurisdiction: 422 (the body is wrong),
    recorded in the audit trail as a refused region."""
    if not principal.can_see(region_code):
        raise UnprocessableEntity(
            f"行政区划 {region_code} 不在当前账号的管辖范围内",
            code="region_outside_jurisdiction",
            errors=[ProblemItem(field=field, code="region_outside_jurisdiction", detail="不在管辖范围内")],
            refused_region=RefusedRegion(region_code, field),
        )


def check_manageable(principal: Principal, roles: Iterable[str], *, not_found: NotFound) -> None:
    """An existing account whose roles the caller could not grant is not theirs to change; it is
    answered like one that does not exist only when outside the jurisdiction (the SQL does that),
    and 403 here when inside."""
    allowed = grantable(principal)
    if not allowed:
        raise not_found
    if any(Role(role) not in allowed for role in roles if role in Role.__members__):
        raise Forbidden("无权管理拥有更高权限角色的账号", code="account_not_manageable")
