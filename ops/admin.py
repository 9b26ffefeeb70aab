"""Django admin: where an admin manages monitored accounts and users and reads the audit log.

Every change made here goes through ops.services, which writes the audit log.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from ops.models import Account, AuditEntry, PollStatus
from ops.services.accounts import account_delete, account_save
from ops.services.users import user_delete, user_save


class WritesThroughServices:
    """Saves and deletes (one or a selection) go to the subclass's audited service calls."""

    def write_save(self, obj, actor): ...

    def write_delete(self, obj, actor): ...

    def save_model(self, request, obj, form, change):
        self.write_save(obj, request.user)

    def delete_model(self, request, obj):
        self.write_delete(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.write_delete(obj, request.user)


@admin.register(Account)
class AccountAdmin(WritesThroughServices, admin.ModelAdmin):
    list_display = ("name", "account_id", "region_list", "role_arn", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "account_id")

    @admin.display(description="regions")
    def region_list(self, obj: Account) -> str:
        return ", ".join(obj.regions)

    def write_save(self, obj, actor):
        account_save(account=obj, actor=actor)

    def write_delete(self, obj, actor):
        account_delete(account=obj, actor=actor)


admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(WritesThroughServices, UserAdmin):
    def write_save(self, obj, actor):
        user_save(user=obj, actor=actor)

    def write_delete(self, obj, actor):
        user_delete(user=obj, actor=actor)


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
    """Read-only: the pollers own these rows."""

    list_display = ("source", "account", "region", "last_success_at", "last_error_code", "consecutive_failures")
    list_filter = ("source", "region")
    readonly_fields = [f.name for f in PollStatus._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
