from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from campaigns import dispatcher
from contacts.models import Customer, Staff
from tests.campaigns.factories import reachable_customers
from tests.factories import StaffFactory
from tests.sandbox_fixtures import CORP_ID, wecom_sandbox  # noqa: F401  (pytest fixture)


@dataclass
class SandboxBrand:
    account: Any
    staff: list[Staff]
    customers: list[Customer]
    sandbox: Any

    def ext(self, customer: Customer) -> str:
        return customer.identities.get(platform="wecom").external_id


def sandbox_brand(sandbox: Any, org: Any, *, n_customers: int = 6, n_staff: int = 2, store: Any = None) -> SandboxBrand:
    """Staff registered as WeCom members, customers seeded as their friends on the fake."""
    account = sandbox.connect(org)
    staff = [StaffFactory(organization=org, store=store) for _ in range(n_staff)]
    for s in staff:
        sandbox.add_member(s.wecom_userid, s.name)
    customers = reachable_customers(org, n_customers, staff=staff, store=store)
    for i, c in enumerate(customers):
        ident = c.identities.get(platform="wecom")
        ident.account = CORP_ID
        ident.save(update_fields=["account"])
        sandbox.seed_customer(staff[i % len(staff)].wecom_userid, external_userid=ident.external_id, name=c.name)
    return SandboxBrand(account=account, staff=staff, customers=customers, sandbox=sandbox)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    """Capture what the dispatcher would enqueue (tests drive the steps themselves)."""
    calls: list[tuple[int, float | None]] = []

    def fake(batch_ids: list[int], countdown: float | None = None) -> None:
        calls.extend((b, countdown) for b in batch_ids)

    monkeypatch.setattr(dispatcher, "_enqueue", fake)
    return calls
