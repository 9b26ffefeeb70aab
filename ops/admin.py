"""Django admin: where an admin manages monitored accounts, users and API tokens and reads the audit log.

Every change made here goes through ops.services, which writes the audit log.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils import timezone

from ops.models import Account, ApiToken, AuditEntry, PollStatus, Role
from ops.services.accounts import account_delete, account_save
from ops.services.api_tokens import api_token_delete, api_token_revoke, api_token_update
from ops.services.users import user_delete, user_password_changed, user_save


class WritesThroughServices:
    """Saves and deletes (one or a selection) go to the subclass's audited service calls."""

    def write_save(self, obj, actor, form): ...

    def write_delete(self, obj, actor): ...

    def save_model(self, request, obj, form, change):
        self.write_save(obj, request.user, form)

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

    def write_save(self, obj, actor, form):
        account_save(account=obj, actor=actor)

    def write_delete(self, obj, actor):
        account_delete(account=obj, actor=actor)


admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(WritesThroughServices, UserAdmin):
    def write_save(self, obj, actor, form):
        # The form saves the groups after this; the audit entry names the role they give.
        groups = form.cleaned_data.get("groups") or []
        role = next((g.name for g in groups if g.name in Role.values), "")
        user_save(user=obj, actor=actor, role=role)

    def write_delete(self, obj, actor):
        user_delete(user=obj, actor=actor)

    def user_change_password(self, request, id, form_url=""):
        """Django's own password view, audited when it changed the password (it then redirects)."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user_password_changed(user=self.get_object(request, unquote(id)), actor=request.user)
        return response


class ReadOnly:
    """Shown, never written from the admin: the application appends these rows."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target_label", "target_id", "result")
    list_filter = ("action", "result")
    search_fields = ("target_id", "target_label", "actor_name")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]


@admin.register(PollStatus)
class PollStatusAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: the pollers own these rows."""

    list_display = ("source", "account", "region", "last_success_at", "last_error_code", "consecutive_failures")
    list_filter = ("source", "region")
    readonly_fields = [f.name for f in PollStatus._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(WritesThroughServices, admin.ModelAdmin):
    """Tokens are listed and revoked here; only their hash is stored, so no secret can be shown.

    New tokens come from ``manage.py token create`` (the one place that prints the secret, once).
    """

    list_display = ("prefix", "user", "name", "state", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    fields = ("user", "name", "prefix", "token_hash", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("user", "prefix", "token_hash", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return obj.state(now=timezone.now()).label

    def has_add_permission(self, request):
        return False

    # Only for staff who may change tokens: an action without permissions is offered to view-only staff too.
    @admin.action(permissions=["change"], description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = sum(api_token_revoke(token=t, actor=request.user) for t in queryset.select_related("user"))
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)

    def write_save(self, obj, actor, form):
        api_token_update(token=obj, actor=actor)

    def write_delete(self, obj, actor):
        api_token_delete(token=obj, actor=actor)
