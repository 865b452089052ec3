"""The profile's merge audit, manual merge form and undo button, as owner / teammate / outsider."""

from __future__ import annotations

from typing import Any

from contacts.models import Customer, CustomerMerge
from tests.factories import CustomerFactory


def test_operator_merges_from_the_profile_sees_the_audit_and_undoes_it(world: Any) -> None:
    keep = CustomerFactory(organization=world.org, name="张三", home_store=world.store_a)
    other = CustomerFactory(organization=world.org, name="张三（旧号）", home_store=world.store_a)
    client = world.client_for(world.operator)

    response = client.post(
        f"/customers/{keep.pk}/merge/", {"other": f"#{other.pk}", "keep": "this", "reason": "同一人"}
    )
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=other.pk).exists()
    page = client.get(f"/customers/{keep.pk}/").content.decode()
    assert "合并记录" in page and "手动合并" in page and "同一人" in page and "撤销合并" in page

    merge = CustomerMerge.objects.get(survivor=keep)
    assert client.post(f"/customers/{keep.pk}/merges/{merge.pk}/undo/", {}).status_code == 302
    assert not Customer.objects.filter(pk=other.pk).exists()  # not confirmed: nothing done
    client.post(f"/customers/{keep.pk}/merges/{merge.pk}/undo/", {"confirm": "yes"})
    assert Customer.objects.get(pk=other.pk).name == "张三（旧号）"
    assert "已于" in client.get(f"/customers/{keep.pk}/").content.decode()


def test_merge_keeping_the_other_record_lands_on_it(world: Any) -> None:
    this = CustomerFactory(organization=world.org, home_store=world.store_a)
    other = CustomerFactory(organization=world.org, home_store=world.store_a)
    response = world.client_for(world.operator).post(
        f"/customers/{this.pk}/merge/", {"other": str(other.pk), "keep": "other", "reason": "同一人"}
    )
    assert response["Location"] == f"/customers/{other.pk}/"
    assert not Customer.objects.filter(pk=this.pk).exists()


def test_a_manager_cannot_merge_across_stores_and_store_staff_cannot_merge(world: Any) -> None:
    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    theirs = CustomerFactory(organization=world.org, home_store=world.store_b)
    world.client_for(world.manager).post(f"/customers/{mine.pk}/merge/", {"other": theirs.pk, "reason": "同一人"})
    assert Customer.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2
    staff = world.client_for(world.store_staff).post(
        f"/customers/{mine.pk}/merge/", {"other": theirs.pk, "reason": "x"}
    )
    assert staff.status_code == 403
    outsider = world.client_for(world.outsider).post(
        f"/customers/{mine.pk}/merge/", {"other": theirs.pk, "reason": "x"}
    )
    assert outsider.status_code == 404
    assert Customer.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2
    assert not CustomerMerge.objects.exists()


def test_a_bad_other_id_says_what_to_type(world: Any) -> None:
    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    client = world.client_for(world.operator)
    client.post(f"/customers/{mine.pk}/merge/", {"other": "abc", "reason": "同一人"})
    page = client.get(f"/customers/{mine.pk}/").content.decode()
    assert "请填写要合并的另一位客户的编号" in page
