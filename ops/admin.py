"""Django admin: where an admin manages monitored accounts and users and reads the audit log.

Every change made here goes through ops.services, which writes the audit log.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from ops.models import Account, AuditEntry, PollStatus
from ops.services.accounts import account_delete, account_save
from ops.services.users import user_delete, user_save


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "region_list", "role_arn", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "account_id")

    @admin.display(description="regions")
    def region_list(self, obj: Account) -> str:
        return ", ".join(obj.regions)

    def save_model(self, request, obj, form, change):
        account_save(account=obj, actor=request.user)

    def delete_model(self, request, obj):
        account_delete(account=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for account in queryset:
            account_delete(account=account, actor=request.user)


admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        user_save(user=obj, actor=request.user)

    def delete_model(self, request, obj):
        user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user, actor=request.user)


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
