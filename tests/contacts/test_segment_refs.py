"""contacts.segment_refs on flat leaves and on rule trees (pure: no database)."""

from __future__ import annotations

import copy

from contacts.segment_refs import referenced_ids, removal_effects, without_ids

TREE = {
    "all": [
        {"any": [{"tags": {"any": [1, 2]}}, {"tags": {"all": [3]}, "stores": [7]}]},
        {"not": {"tags": {"none": [4]}, "groups": [9, 10]}},
        {"tags": {"none": [1]}, "follower_staff": [5], "custom": {"level": {"in": ["金卡"]}}},
    ]
}


def test_referenced_ids_walks_every_leaf_of_a_tree() -> None:
    refs = referenced_ids(TREE)
    assert refs["tags"] == {1, 2, 3, 4}
    assert refs["stores"] == {7}
    assert refs["groups"] == {9, 10}
    assert refs["follower_staff"] == {5}
    assert refs["custom"] == {"level"}


def test_referenced_ids_of_flat_null_and_empty() -> None:
    assert referenced_ids({"tags": {"all": [1], "none": [2]}, "stores": [3]})["tags"] == {1, 2}
    assert all(not ids for ids in referenced_ids(None).values())
    assert all(not ids for ids in referenced_ids({}).values())


def test_without_ids_removes_from_every_leaf_and_keeps_input() -> None:
    before = copy.deepcopy(TREE)
    out = without_ids(TREE, "tags", {1, 3})
    assert before == TREE
    assert out == {
        "all": [
            # {"all": [3]} lost its only tag: the leaf keeps its store condition.
            {"any": [{"tags": {"any": [2]}}, {"stores": [7]}]},
            {"not": {"tags": {"none": [4]}, "groups": [9, 10]}},
            # "none" of 1 lost its last tag: the part goes, the other conditions stay.
            {"follower_staff": [5], "custom": {"level": {"in": ["金卡"]}}},
        ]
    }
    assert referenced_ids(out)["tags"] == {2, 4}


def test_without_ids_untouched_when_nothing_refers() -> None:
    assert without_ids(TREE, "tags", {99}) == TREE
    assert without_ids(None, "tags", {1}) is None
    assert without_ids({}, "stores", {1}) == {}


def test_emptied_leaves_inside_all_drop_and_inside_any_mean_everyone() -> None:
    tree = {"all": [{"tags": {"none": [1]}}, {"stores": [2]}]}
    assert without_ids(tree, "tags", {1}) == {"all": [{"stores": [2]}]}
    assert without_ids({"all": [{"tags": {"none": [1]}}]}, "tags", {1}) == {}
    either = {"any": [{"tags": {"all": [1]}}, {"stores": [2]}]}
    assert without_ids(either, "tags", {1}) == {"any": [{}, {"stores": [2]}]}
    # A leaf under "not" that loses everything becomes not-everyone (nobody), never silently dropped.
    assert without_ids({"not": {"tags": {"any": [1]}}}, "tags", {1}) == {"not": {}}


def test_other_kinds() -> None:
    assert without_ids(TREE, "groups", {9})["all"][1] == {"not": {"tags": {"none": [4]}, "groups": [10]}}
    assert without_ids(TREE, "custom", {"level"})["all"][2] == {"tags": {"none": [1]}, "follower_staff": [5]}
    assert without_ids({"stores": [7]}, "stores", [7]) == {}
    assert without_ids({"follower_staff": [5, 6]}, "follower_staff", {5}) == {"follower_staff": [6]}


def test_removal_effects_name_the_direction() -> None:
    assert removal_effects({"tags": {"all": [1, 2]}}, "tags", {1}) == ["widens_all"]
    assert removal_effects({"tags": {"any": [1, 2]}}, "tags", {1}) == ["narrows_any"]
    assert removal_effects({"tags": {"any": [1]}, "stores": [3]}, "tags", {1}) == ["drops_any"]
    # A "none" that loses its last tag: the rule becomes everyone, and the caller is told so.
    assert removal_effects({"tags": {"none": [1]}}, "tags", {1}) == ["everyone", "widens_none"]
    assert removal_effects({"not": {"tags": {"all": [1, 2]}}}, "tags", {1}) == ["inverted", "widens_all"]
    assert removal_effects(TREE, "tags", {99}) == []
