"""The OpenAPI schema documents every endpoint the console's API offers, each operation with an
example, and no response that could carry a channel credential."""

from __future__ import annotations

import pytest

NEW_PATHS = {
    "/api/v1/stores/": {"get", "post"},
    "/api/v1/stores/{id}/": {"get", "patch"},
    "/api/v1/stores/{id}/close/": {"post"},
    "/api/v1/stores/{id}/reopen/": {"post"},
    "/api/v1/staff/": {"get"},
    "/api/v1/staff/{id}/": {"get", "patch"},
    "/api/v1/channel-accounts/": {"get"},
    "/api/v1/channel-accounts/{id}/": {"get"},
    "/api/v1/contact-ways/": {"get", "post"},
    "/api/v1/contact-ways/{id}/": {"get", "patch", "delete"},
    "/api/v1/leads/": {"get"},
    "/api/v1/leads/{id}/": {"get"},
    "/api/v1/campaigns/": {"get", "post"},
    "/api/v1/campaigns/{id}/": {"get"},
    "/api/v1/campaigns/{id}/submit/": {"post"},
    "/api/v1/campaigns/{id}/approve/": {"post"},
    "/api/v1/campaigns/{id}/reject/": {"post"},
    "/api/v1/campaigns/{id}/pause/": {"post"},
    "/api/v1/campaigns/{id}/resume/": {"post"},
    "/api/v1/campaigns/{id}/cancel/": {"post"},
    "/api/v1/campaigns/{id}/results/": {"get"},
    **{
        f"/api/v1/reports/{name}/": {"get"}
        for name in ("overview", "ltv", "repurchase", "cohorts", "rfm", "funnel", "staff")
    },
}


@pytest.fixture
def schema(world):
    resp = world.client_for(world.operator).get("/api/v1/schema/", {"format": "json"})
    assert resp.status_code == 200
    return resp.json()


def _examples(op: dict) -> list[dict]:
    found = []
    for response in op.get("responses", {}).values():
        for content in (response.get("content") or {}).values():
            found.extend((content.get("examples") or {}).values())
    for content in op.get("requestBody", {}).get("content", {}).values():
        found.extend((content.get("examples") or {}).values())
    return found


def test_every_new_operation_is_in_the_schema_with_an_example(schema):
    for path, methods in NEW_PATHS.items():
        assert path in schema["paths"], path
        ops = schema["paths"][path]
        assert methods <= set(ops), (path, set(ops))
        for method in methods - {"delete"}:  # a 204 has no body to illustrate
            assert _examples(ops[method]), f"{method.upper()} {path} has no example"
            assert ops[method].get("summary"), f"{method.upper()} {path} has no summary"


def test_list_endpoints_document_pagination_and_their_filters(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/leads/"]["get"]["parameters"]}
    assert {"limit", "offset", "source", "status", "store", "date_from", "date_to"} <= params
    report = {p["name"] for p in schema["paths"]["/api/v1/reports/ltv/"]["get"]["parameters"]}
    assert {"start", "end", "store", "channel", "staff"} <= report


def test_no_channel_account_response_names_a_credential(schema):
    fields = set(schema["components"]["schemas"]["ChannelAccount"]["properties"])
    assert not fields & {"credentials", "credentials_encrypted", "secret", "token", "aes_key", "hook_key"}
    assert "has_credentials" in fields
