from django.urls import path

from dashboard.views import api, function, inventory, jobs, overview, status, traces

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("functions/", inventory.function_list, name="functions"),
    path("functions/<int:pk>/", function.function_detail, name="function"),
    path("functions/<int:pk>/charts", function.function_charts, name="function-charts"),
    path("functions/<int:pk>/minute", function.function_minute, name="function-minute"),
    path("functions/<int:pk>/traces", traces.function_traces, name="traces"),
    path("functions/<int:pk>/map", traces.function_service_map, name="service-map"),
    path("traces/<str:trace_id>", traces.trace_page, name="trace"),
    path("status/", status.status_page, name="status"),
    path("status/poll", status.poll_now, name="poll_now"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/progress", jobs.job_progress, name="job-progress"),
    path("jobs/<int:pk>/cancel", jobs.job_cancel, name="job-cancel"),
    path("healthz", status.healthz, name="healthz"),
    path("api/v1/fleet", api.fleet, name="api-fleet"),
    path("api/v1/functions/<int:pk>", api.function_summary, name="api-function"),
    path("api/v1/functions/<int:pk>/series", api.function_series, name="api-function-series"),
]
