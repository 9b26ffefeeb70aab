"""Template context shared by every page."""

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    is_operator = bool(user and user.is_authenticated and user.has_perm("ops.operate"))
    return {"nav_is_operator": is_operator}
