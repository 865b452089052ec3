"""Permission matrix: role × door × own/other store. Every forbidden cell is refused (403/404, or the
customer is simply absent from a list-like answer) and nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from contacts import services
from contacts.models import Customer, CustomerTag, Note, Role, TimelineEvent
from tests.conftest import _staff
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

ROLES = ["operator", "manager", "manager_managed", "manager_none", "store_staff", "no_role", "outsider"]
# Which customers each role may read and change: the one in store A (the manager's and the store staff's
# own store) and the one in store B.
ALLOWED = {
    ("operator", "A"): True,
    ("operator", "B"): True,
    ("manager", "A"): True,
    ("manager", "B"): False,
    # A manager of store A through ``managed_stores`` only (no own store): the same scope as ``manager``.
    ("manager_managed", "A"): True,
    ("manager_managed", "B"): False,
    # A manager with neither an own nor a managed store sees nothing until given one.
    ("manager_none", "A"): False,
    ("manager_none", "B"): False,
    ("store_staff", "A"): True,
    ("store_staff", "B"): False,
    ("no_role", "A"): False,
    ("no_role", "B"): False,
    ("outsider", "A"): False,
    ("outsider", "B"): False,
}
PHONES = {"A": "13800138001", "B": "13800138002"}


def add_roles(world: Any) -> Any:
    """The two manager shapes the world fixture lacks: managing store A only, and no store at all."""
    if not hasattr(world, "manager_managed"):
        world.manager_managed = _staff(world.org, None, Role.MANAGER, "mgr_managed")
        world.manager_managed.managed_stores.add(world.store_a)
        world.manager_none = _staff(world.org, None, Role.MANAGER, "mgr_none")
    return world


def listed(response: Any, customer: Customer) -> bool:
    return response.status_code == 200 and customer.pk in {r["id"] for r in response.json()["results"]}


def exported(response: Any, customer: Customer) -> bool:
    if response.status_code != 200:
        return False
    return customer.name in b"".join(response.streaming_content).decode("utf-8-sig")


def door_list(client: Client, customer: Customer, tag: Any) -> bool:
    return listed(client.get(reverse("contacts:api-customer-list")), customer)


def door_search(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.get(reverse("contacts:api-customer-list"), {"q": PHONES[customer.name[-1]]})
    return listed(response, customer)


def door_detail(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.get(reverse("contacts:api-customer-detail", args=[customer.pk]))
    assert response.status_code in (200, 403, 404)
    return response.status_code == 200 and response.json()["id"] == customer.pk


def door_notes(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.get(reverse("contacts:api-customer-notes", args=[customer.pk]))
    assert response.status_code in (200, 403, 404)
    return response.status_code == 200


def door_export(client: Client, customer: Customer, tag: Any) -> bool:
    return exported(client.get(reverse("contacts:api-customer-export")), customer)


def door_segment_preview(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.post(
        reverse("contacts:api-segment-preview"),
        {"expression": {"stores": [customer.home_store_id]}, "limit": 50},
        content_type="application/json",
    )
    # 400: the store is not one of the caller's brand (the same reference check as saving).
    assert response.status_code in (200, 400, 403)
    return response.status_code == 200 and customer.pk in {c["id"] for c in response.json()["sample"]}


def door_tag(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.post(reverse("contacts:api-customer-tag-add", args=[customer.pk]), {"tag": tag.pk})
    assert response.status_code in (200, 403, 404)
    return response.status_code == 200


def door_untag(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.delete(reverse("contacts:api-customer-tag-remove", args=[customer.pk, tag.pk]))
    assert response.status_code in (200, 403, 404)
    return response.status_code == 200


def door_note(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.post(reverse("contacts:api-customer-notes", args=[customer.pk]), {"body": "来过"})
    assert response.status_code in (201, 403, 404)
    return response.status_code == 201


def door_opt_out(client: Client, customer: Customer, tag: Any) -> bool:
    response = client.post(reverse("contacts:api-customer-opt-out", args=[customer.pk]))
    assert response.status_code in (200, 403, 404)
    return response.status_code == 200


DOORS: dict[str, Callable[[Client, Customer, Any], bool]] = {
    "list": door_list,
    "search": door_search,
    "detail": door_detail,
    "notes": door_notes,
    "export": door_export,
    "segment_preview": door_segment_preview,
    "tag": door_tag,
    "untag": door_untag,
    "note": door_note,
    "opt_out": door_opt_out,
}


def state(customer: Customer) -> tuple[Any, ...]:
    customer.refresh_from_db()
    return (
        tuple(customer.tag_ids),
        tuple(CustomerTag.objects.filter(customer=customer).values_list("tag_id", flat=True).order_by("tag_id")),
        Note.objects.filter(customer=customer).count(),
        TimelineEvent.objects.filter(customer=customer).count(),
        customer.opted_out_at,
    )


@pytest.mark.parametrize("store", ["A", "B"])
@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world: Any, role: str, door: str, store: str) -> None:
    target = CustomerFactory(
        organization=world.org,
        home_store=world.store_a if store == "A" else world.store_b,
        name=f"客户{store}",
        phone=PHONES[store],
    )
    add_roles(world)
    tag = TagFactory(group__organization=world.org)
    if door == "untag":
        services.customer_tag_add(customer=target, tag=tag)
    before = state(target)
    client = world.client_for(getattr(world, role))

    allowed = DOORS[door](client, target, tag)

    assert allowed == ALLOWED[(role, store)]
    if not allowed:
        assert state(target) == before  # a refusal changes nothing
    elif door in ("tag", "untag", "note", "opt_out"):
        assert state(target) != before  # and an allowed write really wrote


def test_manager_without_a_store_sees_nobody(world: Any) -> None:
    add_roles(world)
    CustomerFactory(organization=world.org, home_store=world.store_a, phone=PHONES["A"])
    CustomerFactory(organization=world.org, home_store=world.store_b, phone=PHONES["B"])
    CustomerFactory(organization=world.org, home_store=None)
    client = world.client_for(world.manager_none)
    response = client.get(reverse("contacts:api-customer-list"))
    assert response.status_code == 200 and response.json()["count"] == 0
    preview = client.post(
        reverse("contacts:api-segment-preview"), {"expression": {}, "limit": 50}, content_type="application/json"
    )
    assert preview.status_code == 200 and preview.json()["count"] == 0 and preview.json()["sample"] == []
    # Once given a store, they see that store's customers.
    world.manager_none.managed_stores.add(world.store_b)
    response = client.get(reverse("contacts:api-customer-list"))
    assert response.status_code == 200 and response.json()["count"] == 1


def test_store_staff_without_a_store_sees_nobody(world: Any) -> None:
    world.store_staff.store = None
    world.store_staff.save()
    CustomerFactory(organization=world.org, home_store=world.store_a)
    response = world.client_for(world.store_staff).get(reverse("contacts:api-customer-list"))
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("role", ["store_staff", "no_role"])
def test_catalogue_and_segment_writes_are_refused(world: Any, role: str) -> None:
    client = world.client_for(getattr(world, role))
    tag = TagFactory(group__organization=world.org, name="原名")
    assert client.post(reverse("contacts:api-tag-group-list"), {"name": "新组"}).status_code in (403, 404)
    assert client.patch(
        reverse("contacts:api-tag-detail", args=[tag.pk]), {"name": "改名"}, content_type="application/json"
    ).status_code in (403, 404)
    assert client.delete(reverse("contacts:api-tag-detail", args=[tag.pk])).status_code in (403, 404)
    assert client.post(
        reverse("contacts:api-segment-list"), {"name": "s", "expression": {}}, content_type="application/json"
    ).status_code in (403, 404)
    assert client.post(
        reverse("contacts:api-customer-bulk-tag"), {"tag": tag.pk, "customer_ids": [1]}, content_type="application/json"
    ).status_code in (403, 404)
    tag.refresh_from_db()
    assert tag.name == "原名" and tag.group.name != "新组"
    assert not world.org.segments.exists()
    assert not world.org.tag_groups.filter(name="新组").exists()


def test_an_outsider_operator_writes_only_in_their_own_organization(world: Any) -> None:
    client = world.client_for(world.outsider)
    ours = TagFactory(group__organization=world.org, name="原名")
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    response = client.post(reverse("contacts:api-tag-group-list"), {"name": "新组"})
    assert response.status_code == 201
    assert (
        world.other_org.tag_groups.filter(name="新组").exists()
        and not world.org.tag_groups.filter(name="新组").exists()
    )
    assert (
        client.patch(
            reverse("contacts:api-tag-detail", args=[ours.pk]), {"name": "改名"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.delete(reverse("contacts:api-tag-group-detail", args=[ours.group_id])).status_code == 404
    response = client.post(
        reverse("contacts:api-customer-bulk-tag"),
        {"tag": ours.pk, "customer_ids": [customer.pk]},
        content_type="application/json",
    )
    assert response.status_code == 400  # our tag does not exist for them
    ours.refresh_from_db()
    customer.refresh_from_db()
    assert ours.name == "原名" and customer.tag_ids == [] and not CustomerTag.objects.exists()


# --- write paths keyed by a client-supplied key -----------------------------------------------------
# Each door names an existing order or customer of store A or B by a key the client supplies
# (external_ref, phone, 客户ID) while otherwise staying inside store A. A role outside that store's
# scope is refused with an error naming the row or field, and the target is neither changed nor
# shadowed by a new row; an outsider (another brand) never reaches our rows at all.


def _csv(*rows: str) -> bytes:
    return ("外部单号,手机号,客户ID,门店编码,金额,退款金额,支付时间,来源\n" + "\n".join(rows) + "\n").encode("utf-8-sig")


def _import(client: Client, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from analytics.models import OrderImport

    before = set(OrderImport.objects.values_list("pk", flat=True))
    response = client.post(reverse("analytics:order_import"), {"file": SimpleUploadedFile("pos.csv", data)})
    assert response.status_code in (302, 403)
    job = OrderImport.objects.exclude(pk__in=before).first()
    if response.status_code == 403:
        assert job is None
    return job


def _refused_row(job: Any, field: str) -> bool:
    """An import that refused its one row: no order created or matched, the line and field named.

    No job (the role may not import) and a job in another organization (the outsider's own rows) reach
    none of ours."""
    if job is None or job.organization.slug != "acme":
        return True
    if job.error_rows == 0:
        return False
    assert (job.created_rows, job.duplicate_rows, job.error_rows) == (0, 0, 1)
    reason = job.errors[0]["reason"]
    # The row's key is named; a role with no store at all is already refused its store column.
    assert job.errors[0]["line"] == 2 and (field in reason or "门店“A”不在你的管理范围内" in reason), job.errors
    return True


def wdoor_api_upsert(client: Client, t: Any) -> bool:
    """POST /api/v1/orders/ repeating the target order's external_ref (with a refund) for our own customer."""
    response = client.post(
        reverse("analytics:api_orders"),
        {
            "external_ref": t.order.external_ref,
            "source": t.order.source,
            "phone": PHONES["A"],
            "amount": "100.00",
            "refunded_amount": "40.00",
            "paid_at": "2026-03-01T10:00:00+08:00",
        },
        content_type="application/json",
    )
    assert response.status_code in (200, 201, 400, 403, 404), response.content
    t.response = response
    return response.status_code == 200 and response.json()["id"] == t.order.pk


def wdoor_api_create_for_customer(client: Client, t: Any) -> bool:
    response = client.post(
        reverse("analytics:api_orders"),
        {"external_ref": "NEW-1", "phone": t.phone, "amount": "10.00", "paid_at": "2026-03-01T10:00:00+08:00"},
        content_type="application/json",
    )
    assert response.status_code in (201, 400, 403, 404), response.content
    return response.status_code == 201 and response.json()["customer"] == t.customer.pk


def wdoor_import_existing_ref(client: Client, t: Any) -> bool:
    """The order import repeating the target order's 外部单号 with a refund, for our own customer in store A."""
    job = _import(client, _csv(f"{t.order.external_ref},{PHONES['A']},,A,100,40,2026-03-01 10:00,{t.order.source}"))
    return not _refused_row(job, "外部单号")


def wdoor_import_phone(client: Client, t: Any) -> bool:
    """A new order for the target customer by phone, under store A."""
    job = _import(client, _csv(f"NEW-2,{t.phone},,A,10,,2026-03-01 10:00,pos_import"))
    return not _refused_row(job, "客户")


def wdoor_import_phone_no_store(client: Client, t: Any) -> bool:
    job = _import(client, _csv(f"NEW-3,{t.phone},,,10,,2026-03-01 10:00,pos_import"))
    return not _refused_row(job, "客户")


def wdoor_import_customer_id(client: Client, t: Any) -> bool:
    job = _import(client, _csv(f"NEW-4,,{t.customer.pk},A,10,,2026-03-01 10:00,pos_import"))
    return not _refused_row(job, "客户")


def wdoor_import_store_code(client: Client, t: Any) -> bool:
    job = _import(client, _csv(f"NEW-5,{PHONES['A']},,{t.store.code},10,,2026-03-01 10:00,pos_import"))
    return not _refused_row(job, "门店")


def wdoor_customer_import(client: Client, t: Any) -> bool:
    """The customer import (store code and phone columns) is for operators only."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = f"手机号,姓名,门店编码\n{t.phone},改名,{t.store.code}\n".encode()
    response = client.post(reverse("contacts:api-import-create"), {"file": SimpleUploadedFile("c.csv", data)})
    assert response.status_code in (202, 403), response.content
    return response.status_code == 202 and response.json()["updated_count"] == 1


WRITE_DOORS: dict[str, Callable[[Client, Any], bool]] = {
    "api_upsert": wdoor_api_upsert,
    "api_create_for_customer": wdoor_api_create_for_customer,
    "import_existing_ref": wdoor_import_existing_ref,
    "import_phone": wdoor_import_phone,
    "import_phone_no_store": wdoor_import_phone_no_store,
    "import_customer_id": wdoor_import_customer_id,
    "import_store_code": wdoor_import_store_code,
    "customer_import": wdoor_customer_import,
}
WRITE_ROLES = {"operator", "manager", "manager_managed"}  # who may write orders at all
CUSTOMER_IMPORT_ROLES = {"operator"}


def _order_state(t: Any) -> tuple[Any, ...]:
    from analytics.models import Order

    t.order.refresh_from_db()
    t.customer.refresh_from_db()
    return (
        t.order.refunded_amount,
        t.order.status,
        Order.objects.filter(customer=t.customer).count(),
        t.customer.name,
        t.customer.order_count,
    )


@pytest.mark.parametrize("store", ["A", "B"])
@pytest.mark.parametrize("door", list(WRITE_DOORS))
@pytest.mark.parametrize("role", ROLES)
def test_write_paths_by_client_key_stay_in_scope(world: Any, role: str, door: str, store: str) -> None:
    import datetime as dt
    from decimal import Decimal
    from types import SimpleNamespace

    from analytics import services as order_services
    from analytics.models import Order

    add_roles(world)
    own = CustomerFactory(organization=world.org, home_store=world.store_a, name="客户A", phone=PHONES["A"])
    target_store = world.store_a if store == "A" else world.store_b
    if store == "A":
        customer = own
    else:
        customer = CustomerFactory(organization=world.org, home_store=world.store_b, name="客户B", phone=PHONES["B"])
    order, _ = order_services.order_record(
        organization=world.org,
        customer=customer,
        store=target_store,
        amount=Decimal("100.00"),
        paid_at=dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC),
        source="api",
        external_ref=f"REF-{store}",
    )
    t = SimpleNamespace(order=order, customer=customer, store=target_store, phone=PHONES[store])
    before = _order_state(t)
    orders_before = Order.objects.filter(organization=world.org).count()
    client = world.client_for(getattr(world, role))

    t.response = None
    touched = WRITE_DOORS[door](client, t)

    roles = CUSTOMER_IMPORT_ROLES if door == "customer_import" else WRITE_ROLES
    assert touched == (role in roles and ALLOWED[(role, store)])
    if not touched:
        assert _order_state(t) == before  # a refusal changes nothing
        if role != "outsider":  # and is not taken for a new row either
            assert Order.objects.filter(organization=world.org).count() == orders_before
        if role in ("manager", "manager_managed") and door == "api_upsert":  # the refusal names the key
            assert t.response.status_code in (400, 403) and "external_ref" in t.response.content.decode()


def test_tags_by_id_from_another_organization_are_refused(world: Any) -> None:
    add_roles(world)
    theirs = TagFactory(group__organization=world.other_org)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    for role in ("operator", "manager", "manager_managed", "store_staff"):
        client = world.client_for(getattr(world, role))
        response = client.post(reverse("contacts:api-customer-tag-add", args=[customer.pk]), {"tag": theirs.pk})
        assert response.status_code in (400, 403, 404), (role, response.status_code)
        response = client.delete(reverse("contacts:api-customer-tag-remove", args=[customer.pk, theirs.pk]))
        assert response.status_code in (400, 403, 404), (role, response.status_code)
    customer.refresh_from_db()
    assert customer.tag_ids == [] and not CustomerTag.objects.exists()
