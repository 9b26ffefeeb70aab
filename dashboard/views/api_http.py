"""The JSON API's HTTP rules: who may call it, which methods, and that every answer is JSON.

- Auth: ``Authorization: Bearer <token>`` (``manage.py token create``) or the browser session.
  A request that carries a bearer token is judged by the token alone and never meets CSRF: a
  cross-site page cannot add that header, so there is nothing to forge. A session request that
  is not safe (POST, …) is checked for CSRF as anywhere else in the product.
- Methods: GET and HEAD; anything else is a JSON 405 with ``Allow: GET, HEAD``.
- Errors: 400/401/403/404/405/500 under /api/ are ``{"error": "…"}`` JSON, including the ones
  Django raises before a view runs (an unknown path, an uncaught exception: see the handlers).
- Numbers: no answer holds NaN or Infinity (not JSON); a non-finite value is sent as null.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from dashboard.params import ParamError, cleans_query
from ops.selectors.telemetry import reads_without_jit
from ops.services.api_tokens import TokenRefused, api_token_authenticate

API_PREFIX = "/api/"
ALLOWED_METHODS = ("GET", "HEAD")
CSRF_SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")  # what Django's CSRF check lets through


def finite(value):
    """``value`` with every NaN/±Infinity (float or Decimal) inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return value


def json_response(body, *, status: int = 200) -> JsonResponse:
    # allow_nan=False: should a non-finite number ever slip past finite(), the answer is a
    # logged 500 rather than a body no JSON parser accepts.
    return JsonResponse(finite(body), status=status, safe=False, json_dumps_params={"allow_nan": False})


def json_error(status: int, message: str, *, param: str | None = None) -> JsonResponse:
    body = {"error": message}
    if param is not None:
        body["param"] = param
    resp = json_response(body, status=status)
    if status == 401:
        resp["WWW-Authenticate"] = 'Bearer realm="lambda-ops"'
    if status == 405:
        resp["Allow"] = ", ".join(ALLOWED_METHODS)
    return resp


def _csrf_refused(request: HttpRequest) -> bool:
    """Django's own CSRF check, run for a session request (the API views are csrf_exempt so
    that bearer requests skip it)."""
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None


def _authenticate(request: HttpRequest) -> JsonResponse | None:
    """Sets request.user from the bearer token, or keeps the session's; a refusal otherwise."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        try:
            request.user = api_token_authenticate(raw=raw.strip()).user
        except TokenRefused as err:
            return json_error(401, str(err))
        return None
    if not request.user.is_authenticated:
        return json_error(401, "authentication required: a session or 'Authorization: Bearer <token>'")
    if request.method not in CSRF_SAFE_METHODS and _csrf_refused(request):
        return json_error(403, "CSRF verification failed: a session request needs the CSRF token (or use a bearer token)")
    return None


def request_identified(request: HttpRequest) -> bool:
    """A logged-in session, or a bearer token the API would accept (judged the same way, by the
    token alone). Never refuses: for a view that answers everyone but tells the identified
    more (/healthz)."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        try:
            api_token_authenticate(raw=raw.strip())
        except TokenRefused:
            return False
        return True
    return request.user.is_authenticated


def api_view(view):
    """Auth (bearer or session), GET/HEAD only, JSON errors, finite numbers."""

    @cleans_query
    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        refusal = _authenticate(request)
        if refusal is not None:
            return refusal
        if request.method not in ALLOWED_METHODS:
            return json_error(405, f"{request.method} is not allowed: the API is read-only (GET, HEAD)")
        try:
            with reads_without_jit():
                response = view(request, *args, **kwargs)
        except ParamError as err:
            return json_error(400, str(err), param=err.name)
        except Http404 as exc:
            return json_error(404, str(exc) or "not found")
        except PermissionDenied as exc:
            return json_error(403, str(exc) or "forbidden")
        if request.method == "HEAD":
            # The headers a GET would send, no body (not every server strips it for us).
            response["Content-Length"] = str(len(response.content))
            response.content = b""
        return response

    return wrapper


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


# URLconf error handlers (dashboard/urls.py): JSON under /api/, Django's own pages elsewhere.
def bad_request(request, exception=None, **kwargs):
    if _is_api(request):
        return json_error(400, "bad request")
    return defaults.bad_request(request, exception, **kwargs)


def permission_denied(request, exception=None, **kwargs):
    if _is_api(request):
        return json_error(403, str(exception or "") or "forbidden")
    return defaults.permission_denied(request, exception, **kwargs)


def page_not_found(request, exception=None, **kwargs):
    if _is_api(request):
        return json_error(404, f"no API endpoint at {request.path}")
    return defaults.page_not_found(request, exception, **kwargs)


def server_error(request, **kwargs):
    if _is_api(request):
        return json_error(500, "internal error; it has been logged")
    return defaults.server_error(request, **kwargs)


__all__ = ["api_view", "finite", "json_error", "json_response"]
