"""Users and the two product roles: viewers read, operators may act."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from ops.models import AuditEntry, Role


def roles_ensure() -> None:
    """Create the viewer and operator groups; operators carry ops.operate."""
    ct = ContentType.objects.get_for_model(AuditEntry)
    operate, _ = Permission.objects.get_or_create(
        codename="operate", content_type=ct, defaults={"name": "Can run operator actions (redrive, rollback)"}
    )
    Group.objects.get_or_create(name=Role.VIEWER)
    operator, _ = Group.objects.get_or_create(name=Role.OPERATOR)
    operator.permissions.add(operate)


@transaction.atomic
def user_create(*, username: str, password: str, role: str, email: str = "", admin: bool = False) -> User:
    """Create or update a user with exactly one role (and optionally Django admin rights)."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}, not {role!r}")
    roles_ensure()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.email = email or user.email
    user.set_password(password)
    user.is_staff = admin
    user.is_superuser = admin
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


def user_role(user) -> str:
    if not user.is_authenticated:
        return ""
    if user.has_perm("ops.operate"):
        return Role.OPERATOR
    return Role.VIEWER
