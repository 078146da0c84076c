import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import (
    label_selector_problems,
    parse_label_selector,
)

SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["front", "edge"]},
        {"key": "legacy", "operator": "DoesNotExist"},
        {"key": "zone", "operator": "NotIn", "values": ["b"]},
        {"key": "team", "operator": "Exists"},
    ],
}


@pytest.mark.parametrize(
    ("labels", "matches"),
    [
        ({"app": "web", "tier": "front", "team": "x"}, True),
        ({"app": "web", "tier": "edge", "team": "x", "zone": "a"}, True),
        ({"app": "web", "tier": "edge", "team": "x", "zone": "b"}, False),
        ({"app": "web", "tier": "back", "team": "x"}, False),
        ({"app": "web", "tier": "front"}, False),
        ({"app": "web", "tier": "front", "team": "x", "legacy": ""}, False),
        ({"app": "db", "tier": "front", "team": "x"}, False),
    ],
)
def test_matching(labels, matches):
    assert label_selector_problems(SELECTOR) == []
    assert parse_label_selector(SELECTOR).matches(labels) is matches


def test_empty_selector_matches_everything():
    assert parse_label_selector({}).matches({"a": "b"})
    assert parse_label_selector(None).is_empty


@pytest.mark.parametrize(
    ("selector", "path"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "matchExpressions[0].values"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "matchExpressions[0].values",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Like", "values": ["x"]}]},
            "matchExpressions[0].operator",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "x"]}]},
            "matchExpressions[0].values",
        ),
        ({"matchExpressions": [{"operator": "Exists"}]}, "matchExpressions[0].key"),
        ({"matchLabels": {"bad key!": "x"}}, "matchLabels[bad key!]"),
        ({"matchLabels": {"a": "no spaces"}}, "matchLabels[a]"),
        ({"matchLabels": ["a"]}, "matchLabels"),
        ({"matchLabel": {"a": "b"}}, "matchLabel"),
        ({"matchExpressions": "a"}, "matchExpressions"),
        ("app=web", ""),
    ],
)
def test_problems_name_the_field(selector, path):
    problems = label_selector_problems(selector)
    assert [p.path for p in problems] == [path]
    assert problems[0].fix
