"""Leads without a store are given to one by an operator (the home page's to-do 未分配门店的线索)."""

from __future__ import annotations

import pytest

from channels.models import Lead, LeadSource
from tests.conftest import World

URL = "/channels/leads/?assigned=no"


def _leads(world: World) -> dict[str, Lead]:
    source = LeadSource.values[0]
    return {
        "free": Lead.objects.create(organization=world.org, source=source, external_id="F1"),
        "free2": Lead.objects.create(organization=world.org, source=source, external_id="F2"),
        "placed": Lead.objects.create(organization=world.org, source=source, external_id="P1", store=world.store_b),
        "foreign": Lead.objects.create(organization=world.other_org, source=source, external_id="X1"),
    }


@pytest.mark.django_db
def test_an_operator_assigns_ticked_leads_and_the_store_manager_sees_them(world: World) -> None:
    leads = _leads(world)
    client = world.client_for(world.operator)
    page = client.get(URL)
    assert 'id="lead-assign"' in page.content.decode()
    ids = [leads[k].pk for k in ("free", "placed", "foreign")]
    response = client.post(URL, {"store": world.store_a.pk, "lead": ids})
    assert response.status_code == 302 and response["Location"] == URL
    stores = dict(Lead.objects.values_list("external_id", "store_id"))
    # Only the store-less lead of this brand moved; a placed lead and another brand's are untouched.
    assert stores == {"F1": world.store_a.pk, "F2": None, "P1": world.store_b.pk, "X1": None}
    manager_page = world.client_for(world.manager).get("/channels/leads/")
    assert [r.external_id for r in manager_page.context["rows"]] == ["F1"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"lead": ["1"]}, "store"),
        ({"store": "abc", "lead": ["1"]}, "store"),
        ({"store": "OTHER", "lead": ["1"]}, "store"),
        ({"store": "A"}, "lead"),
        ({"store": "A", "lead": ["1; drop"]}, "lead"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_moves(world: World, post: dict, field: str) -> None:
    leads = _leads(world)
    data = dict(post)
    data["store"] = {"A": world.store_a.pk, "OTHER": world.other_store.pk}.get(data.get("store", ""), data.get("store"))
    if data["store"] is None:
        del data["store"]
    data["lead"] = [str(leads["free"].pk) if v == "1" else v for v in data.get("lead", [])]
    response = world.client_for(world.operator).post(URL, data)
    assert response.status_code == 400
    assert f'data-error-field="{field}"' in response.content.decode()
    assert not Lead.objects.filter(organization=world.org, store=world.store_a).exists()


@pytest.mark.django_db
def test_managers_cannot_assign(world: World) -> None:
    leads = _leads(world)
    response = world.client_for(world.manager).post(URL, {"store": world.store_a.pk, "lead": [leads["free"].pk]})
    assert response.status_code == 403
    assert Lead.objects.get(pk=leads["free"].pk).store_id is None
    assert 'id="lead-assign"' not in world.client_for(world.manager).get(URL).content.decode()
