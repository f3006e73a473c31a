"""Admin pieces shared by the apps."""


class ReadOnlyAdminMixin:
    """An admin (or inline) that shows rows and never adds, changes or
    deletes them: append-only records, issued statements, alerts, policies."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
