from django.urls import path

from dashboard.views import accounts, actions, api, dlq, function, inventory, jobs, overview, status

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("functions/", inventory.function_list, name="functions"),
    path("functions/<int:pk>/", function.function_detail, name="function"),
    path("functions/<int:pk>/charts", function.function_charts, name="function-charts"),
    path("functions/<int:pk>/minute", function.function_minute, name="function-minute"),
    path("dlqs/", dlq.dlq_list_view, name="dlqs"),
    path("dlqs/<int:pk>/", dlq.dlq_detail_view, name="dlq"),
    path("dlqs/<int:pk>/messages/<int:msg>/", dlq.dlq_message_view, name="dlq-message"),
    path("status/", status.status_page, name="status"),
    path("status/poll", status.poll_now, name="poll_now"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/progress", jobs.job_progress, name="job-progress"),
    path("jobs/<int:pk>/cancel", jobs.job_cancel, name="job-cancel"),
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/add", accounts.account_add, name="account-add"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account"),
    path("accounts/<int:pk>/edit", accounts.account_edit, name="account-edit"),
    path("accounts/<int:pk>/check", accounts.account_check, name="account-check"),
    # Actions: GET = the confirm page (a link an alert may carry), POST = act.
    path("functions/<int:pk>/aliases/<int:alias_pk>/rollback", actions.alias_rollback, name="alias-rollback"),
    path("functions/<int:pk>/aliases/<int:alias_pk>/canary-finish", actions.canary_finish, name="canary-finish"),
    path("functions/<int:pk>/aliases/<int:alias_pk>/canary-abort", actions.canary_abort, name="canary-abort"),
    path("functions/<int:pk>/throttle", actions.function_throttle, name="function-throttle"),
    path("functions/<int:pk>/unthrottle", actions.function_unthrottle, name="function-unthrottle"),
    path("functions/<int:pk>/concurrency", actions.function_concurrency, name="function-concurrency"),
    path("functions/<int:pk>/event-sources/<int:esm_pk>/toggle", actions.esm_toggle, name="esm-toggle"),
    path("jobs/<int:pk>/effect", actions.action_effect_fragment, name="action-effect"),
    path("healthz", status.healthz, name="healthz"),
    path("api/v1/fleet", api.fleet, name="api-fleet"),
    path("api/v1/functions/<int:pk>", api.function_summary, name="api-function"),
    path("api/v1/functions/<int:pk>/series", api.function_series, name="api-function-series"),
]
