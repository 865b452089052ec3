"""A tagging rule's tags reach WeCom: the rule tags (and untags) customers set-based here, each change
is queued as a ``mark_tag`` push, and the sandbox — which refuses unknown tag ids with 40068 like WeCom
— ends up holding exactly the rule's customers on every follow."""

from __future__ import annotations

import pytest

from channels.wecom.services import tag_push
from channels.wecom.sync import full_sync
from contacts import services
from contacts.access import actor_for_user
from contacts.models import Customer, Segment, Tag
from scrm.celery import registered_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand(wecom_sandbox, world):
    """Four WeCom friends (one of them a friend of two members) synced in, and a WeCom tag 复购达人."""
    wecom_sandbox.add_member("zhangsan", "张三")
    wecom_sandbox.add_member("lisi", "李四")
    account = wecom_sandbox.connect(world.org)
    wecom_sandbox.add_tag_group("客户价值", ["复购达人"])
    ext = {name: wecom_sandbox.seed_customer("zhangsan", name=name) for name in ("甲", "乙", "丙", "丁")}
    wecom_sandbox.seed_customer("lisi", external_userid=ext["甲"])
    run = full_sync(account=account)
    assert run.status == "done", run.error
    for name, orders in (("甲", 3), ("乙", 4), ("丙", 1), ("丁", 0)):
        Customer.objects.filter(organization=world.org, name=name).update(order_count=orders)
    tag = Tag.objects.get(organization=world.org, name="复购达人")
    assert tag.wecom_tag_id == wecom_sandbox.tag_id("复购达人")
    return ext, tag


def wecom_tags(wecom_sandbox, ext):
    """name → {member: [tag ids]} as WeCom holds them."""
    customers = wecom_sandbox.snapshot()["customers"]
    return {name: {u: sorted(f["tags"]) for u, f in customers[e]["follows"].items()} for name, e in ext.items()}


def run_rule(rule, monkeypatch, django_capture_on_commit_callbacks):
    """Apply the rule, then run the pushes it queued the way a worker would (by task name)."""
    queued = []
    monkeypatch.setattr("channels.wecom.services.enqueue", lambda name, *args: queued.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        figures = services.tag_rule_apply(rule=rule)
    for name, args in queued:
        registered_task(name)(*args)
    return figures, queued


def test_a_rule_pushes_its_tag_to_every_follow_and_takes_it_back_in_wecom(
    brand, wecom_sandbox, world, monkeypatch, django_capture_on_commit_callbacks
):
    ext, tag = brand
    wid = tag.wecom_tag_id
    segment = Segment.objects.create(organization=world.org, name="复购客户", expression={"order_count": {"min": 2}})
    rule = services.tag_rule_save(
        actor=actor_for_user(world.operator.user), name="复购三次以上", segment_id=segment.pk, tag_id=tag.pk
    )

    figures, queued = run_rule(rule, monkeypatch, django_capture_on_commit_callbacks)
    assert figures == (2, 0)
    assert [n for n, _a in queued] == ["channels.sync.tag_push"] * 2  # one push per customer changed
    assert wecom_tags(wecom_sandbox, ext) == {
        "甲": {"zhangsan": [wid], "lisi": [wid]},  # both of 甲's members see the tag
        "乙": {"zhangsan": [wid]},
        "丙": {"zhangsan": []},
        "丁": {"zhangsan": []},
    }

    # A second run with nothing changed pushes nothing.
    figures, queued = run_rule(rule, monkeypatch, django_capture_on_commit_callbacks)
    assert figures == (0, 0) and queued == []

    # 乙's orders are refunded (fewer than 2 now) and 丁 orders three times: WeCom follows.
    Customer.objects.filter(organization=world.org, name="乙").update(order_count=1)
    Customer.objects.filter(organization=world.org, name="丁").update(order_count=3)
    figures, queued = run_rule(rule, monkeypatch, django_capture_on_commit_callbacks)
    assert figures == (1, 1) and len(queued) == 2
    assert wecom_tags(wecom_sandbox, ext) == {
        "甲": {"zhangsan": [wid], "lisi": [wid]},
        "乙": {"zhangsan": []},
        "丙": {"zhangsan": []},
        "丁": {"zhangsan": [wid]},
    }


def test_a_rule_tag_that_wecom_no_longer_knows_is_refused_there_and_retried_not_dropped(
    brand, wecom_sandbox, world, monkeypatch, django_capture_on_commit_callbacks
):
    """The tag was deleted in the WeCom admin since the last sync: mark_tag answers 40068; the push raises
    (the task retries with backoff) instead of reporting success, and our assignment stays."""
    ext, tag = brand
    segment = Segment.objects.create(organization=world.org, name="复购客户", expression={"order_count": {"min": 2}})
    rule = services.tag_rule_save(
        actor=actor_for_user(world.operator.user), name="复购三次以上", segment_id=segment.pk, tag_id=tag.pk
    )
    Tag.objects.filter(pk=tag.pk).update(wecom_tag_id="999999")  # WeCom holds no such tag
    queued = []
    monkeypatch.setattr("channels.wecom.services.enqueue", lambda name, *args: queued.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tag_rule_apply(rule=rule) == (2, 0)
    with pytest.raises(Exception, match="40068"):
        tag_push(customer_id=queued[0][1][0], added=[tag.pk], removed=[])
    assert all(not f for follows in wecom_tags(wecom_sandbox, ext).values() for f in follows.values())
    assert Customer.objects.filter(organization=world.org, tag_ids__contains=[tag.pk]).count() == 2
