from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Lambda Ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ops.services.users import roles_ensure

        # Groups for the two roles exist in every database, test databases included.
        post_migrate.connect(lambda sender, **kw: roles_ensure(), sender=self, weak=False)
