"""Response headers the product adds to its own (dynamic) answers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every page, API answer and redirect.

    They show one user's view of the estate (and carry CSRF tokens); neither a shared proxy nor
    the browser's disk should keep a copy after logout. Placed after WhiteNoise, which answers
    static files itself (hashed, immutable, cacheable), so they never pass through here. A view
    that set its own Cache-Control keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True)
        return response
