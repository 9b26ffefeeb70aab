from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Lambda Ops dashboard"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from dashboard.views.auth import audit_lockout

        user_locked_out.connect(audit_lockout, dispatch_uid="dashboard.audit_lockout")
