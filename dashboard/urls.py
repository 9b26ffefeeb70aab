from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path


@login_not_required
def favicon(request):
    """Pages link the hashed favicon.svg; this answers clients that ask for /favicon.ico anyway.

    Resolved per request, not at import: the URLconf loads (checks, migrate) before collectstatic.
    """
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("dashboard.views.urls")),
]

# JSON under /api/, Django's own error pages elsewhere.
handler400 = "dashboard.views.api_http.bad_request"
handler403 = "dashboard.views.api_http.permission_denied"
handler404 = "dashboard.views.api_http.page_not_found"
handler500 = "dashboard.views.api_http.server_error"
