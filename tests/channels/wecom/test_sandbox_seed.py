"""The demo mirrors its database into a fresh sandbox, so a full sync keeps every follow."""

from __future__ import annotations

from channels.models import ContactWay
from channels.wecom.sandbox_seed import seed_sandbox
from channels.wecom.sync import full_sync
from contacts.models import Follow, Identity
from tests.factories import CustomerFactory, FollowFactory, StaffFactory


def test_seeded_sandbox_equals_our_base_and_sync_changes_nothing(world, wecom_sandbox):
    account = wecom_sandbox.connect(world.org)
    guide = StaffFactory(organization=world.org, wecom_userid="g1", name="导购")
    for i in range(3):
        customer = CustomerFactory(organization=world.org, name=f"老客{i}")
        FollowFactory(customer=customer, staff=guide, state="wecom_demo")
        Identity.objects.create(
            organization=world.org,
            customer=customer,
            platform="wecom",
            account=wecom_sandbox.corp_id,
            external_id=f"wm_demo_{i}",
        )
    way = ContactWay.objects.create(organization=world.org, account=account, name="码", state="wecom_demo")
    way.staff.set([guide])
    result = seed_sandbox(account=account)
    assert result["customers"] == 3 and result["contact_ways"] == 1
    way.refresh_from_db()
    assert way.config_id in wecom_sandbox.snapshot()["contact_ways"]
    full_sync(account=account)
    assert Follow.objects.filter(deleted_at__isnull=True).count() == 3
    assert wecom_sandbox.scan(state="wecom_demo")["userid"] == "g1"
