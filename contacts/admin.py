"""Django admin for support staff: read-mostly views of the customer base (writes belong to services)."""

from __future__ import annotations

from django.contrib import admin

from contacts.models import Customer, CustomerMerge, ImportJob, Organization, Segment, Staff, Store, Tag, TagGroup


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug", "created_at"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "city", "organization", "is_active"]
    list_filter = ["organization", "is_active"]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "organization", "store", "wecom_userid", "is_active"]
    list_filter = ["organization", "is_active"]
    search_fields = ["name", "wecom_userid"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "name", "organization", "home_store", "source_channel", "lifecycle", "created_at"]
    list_filter = ["organization", "source_channel", "lifecycle"]
    search_fields = ["name"]
    list_select_related = ["organization", "home_store"]
    # Phones are ciphertext and tags a mirror of the assignment table: never edited by hand here.
    exclude = ["phone_encrypted", "phone_hash", "tag_ids"]
    readonly_fields = ["ltv", "order_count", "first_order_at", "last_order_at", "rfm_segment"]


@admin.register(TagGroup)
class TagGroupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "organization", "choice", "origin"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "group", "organization", "wecom_tag_id"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "organization", "last_count", "updated_at"]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["survivor", "merged_customer_id", "reason", "merged_at"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["filename", "organization", "status", "processed_rows", "rejected_count", "created_at"]
    exclude = ["content"]
