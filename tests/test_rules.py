"""Pure rules: statuses, ids, channel names, severities, milestones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.incidents import rules
from warroom.severity.levels import DEFAULT_SEVERITIES, is_downgrade, timer_targets


def test_default_severities_carry_the_playbook_targets() -> None:
    by_name = {s["name"]: s for s in DEFAULT_SEVERITIES}
    sev1 = by_name["SEV-1"]["targets"]
    assert (sev1["ack_minutes"], sev1["ic_minutes"], sev1["leadership_minutes"]) == (5, 10, 15)
    assert (sev1["status_page_minutes"], sev1["customer_comms_minutes"]) == (20, 30)
    assert sev1["postmortem"] == "required" and sev1["postmortem_due_hours"] == 48
    sev2 = by_name["SEV-2"]["targets"]
    assert (sev2["ack_minutes"], sev2["ic_minutes"], sev2["postmortem_due_hours"]) == (15, 30, 72)
    assert by_name["SEV-3"]["targets"]["postmortem"] == "recommended"
    assert by_name["SEV-4"]["targets"]["postmortem"] == "optional"
    assert timer_targets(by_name["SEV-4"]["targets"]) == {}
    assert timer_targets(sev1) == {"ack_minutes": 5, "ic_minutes": 10}


def test_downgrade_is_a_higher_rank_number() -> None:
    assert is_downgrade(1, 2) and not is_downgrade(2, 1) and not is_downgrade(2, 2)


def test_transitions() -> None:
    assert "closed" not in rules.allowed_transitions("investigating")
    assert "resolved" in rules.allowed_transitions("investigating")
    assert rules.allowed_transitions("resolved") == (
        "investigating",
        "identified",
        "monitoring",
        "closed",
    )
    assert rules.allowed_transitions("closed") == ()


@given(st.sampled_from(rules.STATUSES))
def test_no_status_moves_to_itself_and_closed_is_terminal(status: str) -> None:
    allowed = rules.allowed_transitions(status)
    assert status not in allowed
    assert set(allowed) <= set(rules.STATUSES)


@given(st.integers(min_value=1, max_value=10**9))
def test_short_id_round_trips(n: int) -> None:
    assert rules.parse_incident_ref(rules.short_id(n)) == n
    assert rules.parse_incident_ref(str(n)) == n
    assert rules.parse_incident_ref(rules.short_id(n).lower()) == n


@given(st.text(max_size=30))
def test_garbage_refs_are_rejected_not_crashing(text: str) -> None:
    value = rules.parse_incident_ref(text)
    assert value is None or value >= 0


@given(st.text(max_size=300))
def test_channel_names_are_safe_slugs(title: str) -> None:
    name = rules.channel_name(datetime(2026, 5, 1, tzinfo=UTC), title)
    assert name.startswith("#inc-2026-05-01-")
    slug = name.removeprefix("#inc-2026-05-01-")
    assert slug and len(slug) <= 40
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")


def test_milestone_order_problems() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    ok = {"started": t, "detected": t + timedelta(minutes=5), "resolved": t + timedelta(hours=1)}
    assert rules.milestone_order_problems(ok) == []
    bad = {"started": t, "mitigated": t + timedelta(hours=1), "resolved": t + timedelta(minutes=5)}
    assert rules.milestone_order_problems(bad) == ["resolved is before mitigated"]
    assert rules.milestone_order_problems({"started": t, "detected": t - timedelta(1)}) == [
        "detected is before started"
    ]
