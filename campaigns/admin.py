from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from campaigns import services
from campaigns.models import Batch, BatchStatus, Campaign, DispatchAttempt, QuotaPolicy


@admin.register(QuotaPolicy)
class QuotaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["organization", "channel_account", "customer_mode", "group_mode", "moments_per_day", "brand_cap"]
    list_filter = ["organization"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "organization", "kind", "status", "due_at", "priority"]
    list_filter = ["organization", "kind", "status"]
    search_fields = ["name"]
    raw_id_fields = ["segment", "parent", "created_by", "approved_by", "store", "channel_account", "contact_way"]


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DispatchAttempt
    extra = 0
    readonly_fields = ["started_at", "finished_at", "outcome", "error_code", "error", "msgid", "worker"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "campaign", "sender", "size", "status", "msgid", "attempts", "last_error"]
    list_filter = ["status"]
    raw_id_fields = ["campaign", "sender"]
    inlines = [AttemptInline]
    actions = ["resend", "drop"]

    def _resolve(self, request: Any, queryset: Any, action: str) -> None:
        done = 0
        for batch in queryset.filter(status=BatchStatus.NEEDS_OPERATOR):
            services.batch_resolve(batch=batch, action=action)
            done += 1
        messages.info(request, f"{done} 个批次已处理")

    @admin.action(description="已核对企业微信无此任务：重新发送")
    def resend(self, request: Any, queryset: Any) -> None:
        self._resolve(request, queryset, "resend")

    @admin.action(description="放弃发送（释放配额）")
    def drop(self, request: Any, queryset: Any) -> None:
        self._resolve(request, queryset, "drop")
