"""Permission matrix: role × door × own/other store. Every forbidden cell is refused (403/404, or the
customer is simply absent from a list-like answer) and nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from contacts import services
from contacts.models import Customer, CustomerTag, Note, TimelineEvent
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

ROLES = ["operator", "manager", "store_staff", "no_role", "outsider"]
# Which customers each role may read and change: the one in store A (the manager's and the store staff's
# own store) and the one in store B.
ALLOWED = {
    ("operator", "A"): True,
    ("operator", "B"): True,
    ("manager", "A"): True,
    ("manager", "B"): False,
    ("store_staff", "A"): True,
    ("store_staff", "B"): False,
    ("no_role", "A"): False,
    ("no_role", "B"): False,
    ("outsider", "A"): False,
    ("outsider", "B"): False,
}
PHONES = {"A": "13800138001", "B": "13800138002"}


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
    assert response.status_code in (200, 403)
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
