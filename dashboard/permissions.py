"""Access checks for views: operator actions need ops.operate, and say so when refused."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

OPERATE = "ops.operate"


def operator_required(view):
    """403 for anyone without the operator permission (viewers read, operators act)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(OPERATE):
            raise PermissionDenied("This action needs the operator role.")
        return view(request, *args, **kwargs)

    return wrapped
