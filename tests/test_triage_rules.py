"""The triage rules: every cell of the severity matrix, every rung of the blast-radius
ladder, assuming the worst when they disagree, and dependency cycles."""

from __future__ import annotations

import pytest

from warroom.triage import rules

RANKS = {"SEV-1": 1, "SEV-2": 2, "SEV-3": 3, "SEV-4": 4}


@pytest.mark.parametrize(
    ("impact", "scope", "severity"),
    [
        ("complete_loss", "widespread", "SEV-1"),
        ("complete_loss", "limited", "SEV-2"),
        ("complete_loss", "minimal", "SEV-3"),
        ("degraded", "widespread", "SEV-2"),
        ("degraded", "limited", "SEV-3"),
        ("degraded", "minimal", "SEV-4"),
        ("inconvenience", "widespread", "SEV-3"),
        ("inconvenience", "limited", "SEV-4"),
        ("inconvenience", "minimal", "SEV-4"),
    ],
)
def test_the_matrix_of_seed_004(impact: str, scope: str, severity: str) -> None:
    got = rules.suggest(impact=impact, scope=scope, blast_radius=None, ranks=RANKS)
    assert got.severity == severity
    assert got.why.startswith(f"{rules.label(impact)} x {rules.label(scope)} is {severity}")


@pytest.mark.parametrize(
    ("radius", "severity", "page"),
    [
        ("single_user", "SEV-3", ("owning_team",)),
        ("single_feature", "SEV-3", ("owning_team",)),
        ("single_region", "SEV-2", ("owning_team", "team_lead")),
        ("core_workflow", "SEV-2", ("owning_team", "team_lead")),
        (
            "all_users",
            "SEV-1",
            ("owning_team", "team_lead", "incident_commander", "engineering_management"),
        ),
        (
            "data_integrity",
            "SEV-1",
            ("owning_team", "team_lead", "incident_commander", "engineering_management"),
        ),
        (
            "security_breach",
            "SEV-1",
            (
                "owning_team",
                "incident_commander",
                "engineering_management",
                "security",
                "ciso",
                "legal",
            ),
        ),
    ],
)
def test_the_ladder_of_seed_003_and_who_it_pages(
    radius: str, severity: str, page: tuple[str, ...]
) -> None:
    got = rules.suggest(impact=None, scope=None, blast_radius=radius, ranks=RANKS)
    assert (got.severity, got.page) == (severity, page)


def test_when_matrix_and_ladder_disagree_assume_the_worst() -> None:
    got = rules.suggest(
        impact="inconvenience", scope="minimal", blast_radius="data_integrity", ranks=RANKS
    )
    assert got.severity == "SEV-1"
    assert "assume the worst: SEV-1, downgrade later" in got.why
    agree = rules.suggest(
        impact="complete_loss", scope="widespread", blast_radius="all_users", ranks=RANKS
    )
    assert agree.severity == "SEV-1" and "assume the worst" not in agree.why
    # a worse matrix answer wins over a milder rung too
    worse = rules.suggest(
        impact="complete_loss", scope="widespread", blast_radius="single_user", ranks=RANKS
    )
    assert worse.severity == "SEV-1" and worse.page == ("owning_team",)


def test_without_a_blast_radius_the_severity_says_who_to_page() -> None:
    def page(impact: str, scope: str) -> tuple[str, ...]:
        return rules.suggest(impact=impact, scope=scope, blast_radius=None, ranks=RANKS).page

    assert page("complete_loss", "widespread") == (
        "owning_team",
        "team_lead",
        "incident_commander",
        "engineering_management",
    )
    assert page("complete_loss", "limited") == ("owning_team", "team_lead")
    assert page("degraded", "limited") == ("owning_team",)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"impact": "degraded", "scope": None, "blast_radius": None}, "scope"),
        ({"impact": None, "scope": "limited", "blast_radius": None}, "impact"),
        ({"impact": None, "scope": None, "blast_radius": None}, "impact"),
        ({"impact": "bad", "scope": "limited", "blast_radius": None}, "impact"),
        ({"impact": "degraded", "scope": "galaxy", "blast_radius": None}, "scope"),
        ({"impact": None, "scope": None, "blast_radius": "moon"}, "blast_radius"),
    ],
)
def test_missing_or_unknown_answers_name_the_field(kw: dict[str, str | None], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}$"):
        rules.suggest(ranks=RANKS, **kw)  # type: ignore[arg-type]


def test_a_configured_ladder_and_matrix_replace_the_defaults() -> None:
    ladder = dict(rules.DEFAULT_LADDER)
    ladder["single_user"] = rules.Rung("SEV-4", ("owning_team",))
    got = rules.suggest(
        impact=None, scope=None, blast_radius="single_user", ranks=RANKS, ladder=ladder
    )
    assert got.severity == "SEV-4"
    matrix = {i: {s: "SEV-2" for s in rules.SCOPES} for i in rules.IMPACTS}
    got = rules.suggest(
        impact="inconvenience", scope="minimal", blast_radius=None, ranks=RANKS, matrix=matrix
    )
    assert got.severity == "SEV-2"


def test_cycles_are_found_and_named_and_a_diamond_is_not_one() -> None:
    assert rules.find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert rules.find_cycle({"web": ["api", "cdn"], "api": ["db"], "cdn": ["db"], "db": []}) is None
    assert rules.find_cycle({"x": ["y"], "y": ["x"], "a": []}) == ["x", "y", "x"]
    assert rules.find_cycle({}) is None
    assert rules.find_cycle({"a": ["missing"]}) is None


def test_dependents_reach_through_the_graph_and_exclude_the_affected() -> None:
    graph = {"web": ["api"], "api": ["db"], "batch": ["db"], "db": [], "cdn": []}
    assert rules.dependents(graph, ["db"]) == ["api", "batch", "web"]
    assert rules.dependents(graph, ["api", "db"]) == ["batch", "web"]
    assert rules.dependents(graph, ["cdn"]) == []
