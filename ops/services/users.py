"""Users and the two product roles: viewers read, operators may act."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from ops.models import AuditEntry, Role
from ops.services.audit import audit_record


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
def user_create(
    *, username: str, password: str, role: str, email: str = "", admin: bool = False, actor=None
) -> User:
    """Create or update a user with exactly one role (and optionally Django admin rights).

    Audited when an actor is named (the CLI and the admin do); seeding without one (test
    fixtures, benchmarks) writes no audit entry, so the log holds only what people did.
    """
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}, not {role!r}")
    roles_ensure()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    user.email = email or user.email
    user.set_password(password)
    user.is_staff = admin
    user.is_superuser = admin
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    if actor is not None:
        _audit(user, action="user.create" if created else "user.update", actor=actor, role=role)
    return user


def _audit(user: User, *, action: str, actor, role: str = "") -> None:
    audit_record(
        actor=actor,
        action=action,
        target_type="user",
        target_id=str(user.pk),
        target_label=user.get_username(),
        parameters={"role": role, "admin": user.is_superuser, "active": user.is_active},
    )


@transaction.atomic
def user_save(*, user: User, actor, role: str = "") -> User:
    """Save a user edited in the admin's validated form (its groups, hence ``role``, are saved
    by the form right after)."""
    created = user.pk is None
    user.save()
    _audit(user, action="user.create" if created else "user.update", actor=actor, role=role)
    return user


def user_password_changed(*, user: User, actor) -> None:
    """Audit a password change made through Django's own form (which saved it); the password
    itself is never recorded."""
    _audit(user, action="user.password", actor=actor, role=next(iter(user.groups.values_list("name", flat=True)), ""))


@transaction.atomic
def user_delete(*, user: User, actor) -> None:
    _audit(user, action="user.delete", actor=actor)
    user.delete()
