from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.views.urls")),
]

# JSON under /api/, Django's own error pages elsewhere.
handler400 = "dashboard.views.api_http.bad_request"
handler403 = "dashboard.views.api_http.permission_denied"
handler404 = "dashboard.views.api_http.page_not_found"
handler500 = "dashboard.views.api_http.server_error"
