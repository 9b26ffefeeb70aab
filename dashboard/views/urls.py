from django.urls import path

from dashboard.views import inventory, status

urlpatterns = [
    path("", inventory.overview, name="overview"),
    path("functions/", inventory.function_list, name="functions"),
    path("functions/<int:pk>/", inventory.function_detail, name="function"),
    path("status/", status.status_page, name="status"),
    path("status/poll", status.poll_now, name="poll_now"),
    path("healthz", status.healthz, name="healthz"),
]
