"""Django admin: where an admin manages monitored accounts and reads the audit log."""

from django.contrib import admin

from ops.models import Account, AuditEntry, PollStatus
from ops.services.audit import audit_record


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "region_list", "role_arn", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "account_id")

    @admin.display(description="regions")
    def region_list(self, obj: Account) -> str:
        return ", ".join(obj.regions)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="account.update" if change else "account.create",
            target_type="account",
            target_id=obj.account_id,
            target_label=obj.name,
            parameters={"regions": obj.regions, "role_arn": obj.role_arn, "enabled": obj.enabled},
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target_label", "target_id", "result")
    list_filter = ("action", "result")
    search_fields = ("target_id", "target_label", "actor_name")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PollStatus)
class PollStatusAdmin(admin.ModelAdmin):
    list_display = ("source", "account", "region", "last_success_at", "last_error_code", "consecutive_failures")
    list_filter = ("source", "region")
    readonly_fields = [f.name for f in PollStatus._meta.fields]
