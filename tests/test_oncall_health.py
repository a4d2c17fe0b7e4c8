"""On-call health: shifts worked, pages per shift, off-hours pages in each person's own
zone, the share of non-actionable pages, and the flags, per person and per rotation.

The store tests page people for real: an alert on the `api` service opens an incident,
the incident starts the `ops-page` policy, the engine pages whoever is on call on the
`ops` schedule (email, which fails without an SMTP server: the page still counts).
alice lives in Europe/Berlin, bob in UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api, LiveServer
from tests.test_oncall_handoff import apply, fire, ops_config
from tests.test_web import give_password, login, text_of
from warroom.cli.main import main
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.engine.worker import Worker
from warroom.shifts import health
from warroom.shifts.health import Page, Shift, assess, is_off_hours

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- pure -----------------------------------------------------------------------------------


def test_off_hours_are_nights_and_weekends_in_the_persons_own_zone() -> None:
    berlin = "Europe/Berlin"
    assert is_off_hours(utc(2026, 3, 2, 7, 59), berlin)  # 08:59 in Berlin
    assert not is_off_hours(utc(2026, 3, 2, 8, 0), berlin)  # 09:00
    assert not is_off_hours(utc(2026, 3, 2, 15, 59), berlin)  # 16:59
    assert is_off_hours(utc(2026, 3, 2, 16, 0), berlin)  # 17:00
    assert is_off_hours(utc(2026, 3, 7, 12), berlin)  # Saturday noon
    assert not is_off_hours(utc(2026, 3, 2, 16, 0), "America/New_York")  # 11:00 there
    # 07:30 UTC is 08:30 in Berlin before the clocks change and 09:30 after.
    assert is_off_hours(utc(2026, 3, 27, 7, 30), berlin)
    assert not is_off_hours(utc(2026, 3, 30, 7, 30), berlin)
    # Business hours are configurable (a schedule's compensation business_hours).
    assert not is_off_hours(utc(2026, 3, 2, 18), berlin, (time(8), time(20)))


def shift(user: str, day: int, schedule: str = "ops", level: int = 1) -> Shift:
    start = T0 + timedelta(days=day)
    return Shift(schedule, user, level, start, start + timedelta(days=1))


def page(user: str, esc: int, at: datetime, noise: bool = False) -> Page:
    return Page(user, esc, at, noise)


def test_pages_per_shift_off_hours_and_non_actionable_share() -> None:
    shifts = [shift("alice", 0), shift("bob", 1), shift("alice", 2)]
    pages = [
        page("alice", 1, utc(2026, 3, 2, 10)),  # 11:00 Berlin
        page("alice", 1, utc(2026, 3, 2, 10, 5)),  # the same escalation again: one page
        page("alice", 2, utc(2026, 3, 2, 23), noise=True),  # 00:00 Berlin
        page("bob", 3, utc(2026, 3, 3, 12)),
        page("alice", 4, utc(2026, 3, 4, 20)),  # 21:00 Berlin
        page("bob", 5, utc(2026, 3, 20, 3)),  # not on call: counts for bob, no rotation
    ]
    rep = assess(
        start=T0,
        end=T0 + timedelta(days=28),
        shifts=shifts,
        pages=pages,
        zones={"alice": "Europe/Berlin", "bob": "UTC"},
        schedules=["ops"],
    )
    alice, bob = rep.people
    assert (alice.stats.shifts, alice.stats.pages, alice.stats.off_hours) == (2, 3, 2)
    assert alice.stats.pages_per_shift == 1.5
    assert alice.stats.non_actionable_share == pytest.approx(1 / 3)
    assert (bob.stats.shifts, bob.stats.pages, bob.stats.off_hours) == (1, 2, 1)
    (ops,) = rep.rotations
    assert (ops.stats.shifts, ops.stats.pages, ops.stats.off_hours) == (3, 4, 2)
    assert ops.people == {"alice", "bob"}
    assert [f.kind for f in alice.flags] == ["non_actionable"]
    assert "1 of 3 pages (33%)" in alice.flags[0].message
    assert bob.flags == []
    assert [f.kind for f in ops.flags] == ["non_actionable"]  # 1 of 4 = 25%


def test_non_actionable_flag_is_above_20_percent_and_off_hours_flag_at_5() -> None:
    def rep(noisy: int, pages: int, night: int, days: int = 28) -> health.PersonHealth:
        items = [
            page("a", i, utc(2026, 3, 2, 10) + timedelta(hours=i), i < noisy) for i in range(pages)
        ]
        items += [page("a", 100 + i, utc(2026, 3, 2 + i, 23)) for i in range(night)]  # nights
        return assess(
            start=T0, end=T0 + timedelta(days=days), shifts=[], pages=items, zones={}
        ).people[0]

    assert rep(1, 5, 0).flags == []  # exactly 20%
    assert [f.kind for f in rep(2, 5, 0).flags] == ["non_actionable"]
    assert rep(0, 1, 4).flags == []
    assert [f.kind for f in rep(0, 1, 5).flags] == ["off_hours"]
    assert rep(0, 1, 5).flags[0].message.startswith("a was paged 5 times off-hours")
    # Over a longer period the limit is 5 per 28 days.
    assert health.off_hours_limit(T0, T0 + timedelta(days=56)) == 10
    assert health.off_hours_limit(T0, T0 + timedelta(days=7)) == 5
    assert rep(0, 1, 5, days=56).flags == []


def test_a_page_belongs_to_the_rotation_and_level_it_came_in() -> None:
    shifts = [shift("alice", 0, "ops", 2), shift("alice", 0, "db", 1), shift("bob", 0, "ops", 1)]
    pages = [page("alice", 1, utc(2026, 3, 2, 12)), page("bob", 2, utc(2026, 3, 2, 12))]
    rep = assess(start=T0, end=T0 + timedelta(days=1), shifts=shifts, pages=pages, zones={})
    by = {r.schedule: r.stats.pages for r in rep.rotations}
    assert by == {"db": 1, "ops": 1}
    # One rotation alone: people measured on it only.
    only = assess(
        start=T0,
        end=T0 + timedelta(days=1),
        shifts=shifts,
        pages=pages,
        zones={},
        only_schedule="ops",
    )
    assert {p.user: (p.stats.shifts, p.stats.pages) for p in only.people} == {
        "alice": (1, 0),
        "bob": (1, 1),
    }
    assert [r.schedule for r in only.rotations] == ["ops"]


def test_shift_hours_are_clipped_to_the_period() -> None:
    long = Shift("ops", "alice", 1, T0 - timedelta(days=3), T0 + timedelta(days=4))
    rep = assess(start=T0, end=T0 + timedelta(days=1), shifts=[long], pages=[], zones={})
    assert (rep.people[0].stats.shifts, rep.people[0].stats.hours) == (1, 24.0)
    assert rep.people[0].stats.pages_per_shift == 0.0
    assert rep.to_dict()["people"][0]["pages_per_shift"] == 0.0


USERS = ["a", "b", "c"]
ZONES = {"a": "Europe/Berlin", "b": "America/New_York", "c": "Asia/Tokyo"}


@st.composite
def scenario(draw: Any) -> tuple[list[Shift], list[Page], str | None]:
    shifts = []
    for schedule in ("ops", "db"):
        t = T0
        for _ in range(draw(st.integers(0, 8))):
            length = timedelta(hours=draw(st.integers(1, 72)))
            gap = timedelta(hours=draw(st.integers(0, 12)))
            level = draw(st.integers(1, 2))
            shifts.append(Shift(schedule, draw(st.sampled_from(USERS)), level, t, t + length))
            t += length + gap
    pages = [
        Page(
            draw(st.sampled_from(USERS)),
            draw(st.integers(1, 15)),
            T0 + timedelta(minutes=draw(st.integers(-600, 60 * 24 * 30))),
            draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 30)))
    ]
    return shifts, pages, draw(st.sampled_from([None, "ops", "db"]))


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_counts_add_up_and_shares_are_shares(
    case: tuple[list[Shift], list[Page], str | None],
) -> None:
    shifts, pages, only = case
    start, end = T0, T0 + timedelta(days=21)
    rep = assess(
        start=start,
        end=end,
        shifts=shifts,
        pages=pages,
        zones=ZONES,
        business={"db": (time(8), time(18))},
        schedules=["ops", "db"],
        only_schedule=only,
    )
    in_period = {(p.user, p.escalation) for p in health.dedupe(pages) if start <= p.at < end}
    people_pages = sum(p.stats.pages for p in rep.people)
    rotation_pages = sum(r.stats.pages for r in rep.rotations)
    if only is None:
        assert people_pages == len(in_period)
        assert rotation_pages <= people_pages
    else:
        assert people_pages == rotation_pages
    assert sum(p.stats.shifts for p in rep.people) == sum(r.stats.shifts for r in rep.rotations)
    for st_ in [p.stats for p in rep.people] + [r.stats for r in rep.rotations]:
        assert 0 <= st_.off_hours <= st_.pages
        assert 0 <= st_.non_actionable <= st_.pages
        assert 0.0 <= st_.off_hours_share <= 1.0
        assert 0.0 <= st_.non_actionable_share <= 1.0
        assert st_.hours <= 21 * 24 * max(1, st_.shifts)
    for p in rep.people:
        assert ("non_actionable" in [f.kind for f in p.flags]) == (
            p.stats.non_actionable_share > health.NON_ACTIONABLE_LIMIT
        )
        assert ("off_hours" in [f.kind for f in p.flags]) == (p.stats.off_hours >= 5)


# --- over the store, with real pages --------------------------------------------------------


@pytest.fixture
def mon(admin: Api) -> Api:
    apply(admin, ops_config())
    r = admin.post(
        "/api/v1/integrations", json={"name": "mon", "kind": "webhook", "service": "api"}
    )
    assert r.status_code == 201, r.text
    return admin


def page_at(
    mon: Api, db: Database, clock: ManualClock, at: datetime, n: int, noise: bool = False
) -> None:
    """At `at`, an alert opens an incident that pages whoever is primary; it is
    acknowledged and resolved within minutes (marked non-actionable if `noise`)."""
    clock.set(at)
    fire(db, clock, f"Node {n} down", key=f"node-{n}")
    Worker(db, clock).run_due()
    inc = mon.get("/api/v1/incidents", params={"status": "investigating"}).json()["items"][0]["id"]
    assert mon.post(f"/api/v1/incidents/{inc}/ack").status_code == 200
    if noise:
        for a in mon.get("/api/v1/alerts", params={"incident": inc}).json()["items"]:
            r = mon.post(f"/api/v1/alerts/{a['id']}/noise", json={"reason": "false_positive"})
            assert r.status_code == 200, r.text
    assert mon.post(f"/api/v1/incidents/{inc}/resolve", json={"summary": "ok"}).status_code == 200
    clock.advance(minutes=5)
    Worker(db, clock).run_due()


@pytest.fixture
def paged(mon: Api, db: Database, clock: ManualClock) -> Api:
    """A week of pages. alice (primary Mar 2, 4, 6, 8) is woken five times, two of them
    for alerts marked non-actionable; bob (Mar 3, 5, 7) is paged twice in office hours."""
    plan = [
        (utc(2026, 3, 2, 10), False),  # Mon 11:00 Berlin: alice, office hours
        (utc(2026, 3, 2, 20), True),  # Mon 21:00 Berlin: alice, off-hours, noise
        (utc(2026, 3, 2, 23), False),  # Tue 00:00 Berlin: alice, off-hours
        (utc(2026, 3, 3, 10), False),  # Tue 10:00 UTC: bob
        (utc(2026, 3, 4, 23), True),  # Thu 00:00 Berlin: alice, off-hours, noise
        (utc(2026, 3, 5, 14), False),  # Thu 14:00 UTC: bob
        (utc(2026, 3, 6, 23), False),  # Sat 00:00 Berlin: alice, off-hours
        (utc(2026, 3, 8, 12), False),  # Sunday: alice, off-hours
    ]
    for n, (at, noise) in enumerate(plan):
        page_at(mon, db, clock, at, n, noise)
    clock.set(utc(2026, 3, 9, 9))
    return mon


def test_health_over_the_last_28_days_flags_alice(paged: Api) -> None:
    body = paged.get("/api/v1/oncall/health").json()
    assert (body["start"], body["end"]) == ("2026-02-09T09:00:00Z", "2026-03-09T09:00:00Z")
    people = {p["user"]: p for p in body["people"]}
    alice, bob = people["alice"], people["bob"]
    assert (alice["shifts"], alice["pages"], alice["off_hours_pages"]) == (4, 6, 5)
    assert alice["pages_per_shift"] == 1.5
    assert (alice["non_actionable_pages"], alice["non_actionable_share"]) == (2, 0.333)
    assert sorted(alice["flags"]) == ["non_actionable", "off_hours"]
    assert (bob["shifts"], bob["pages"], bob["off_hours_pages"], bob["flags"]) == (3, 2, 0, [])
    # dave, the secondary, held one long duty and was never paged (pages were acknowledged).
    assert (people["dave"]["shifts"], people["dave"]["pages"]) == (1, 0)
    (ops,) = body["rotations"]
    assert (ops["shifts"], ops["pages"], ops["off_hours_pages"], ops["non_actionable_pages"]) == (
        8,
        8,
        5,
        2,
    )
    assert ops["flags"] == ["non_actionable", "off_hours"]
    messages = [f["message"] for f in body["flags"]]
    assert any("alice was paged 5 times off-hours" in m and "Europe/Berlin" in m for m in messages)
    assert any("2 of 6 pages (33%)" in m for m in messages)

    one = paged.get("/api/v1/oncall/health", params={"user": "bob", "schedule": "ops"}).json()
    assert [p["user"] for p in one["people"]] == ["bob"]
    assert [f["name"] for f in one["flags"]] == ["ops", "ops"]
    nobody = paged.get("/api/v1/oncall/health", params={"user": "erin"}).json()
    assert nobody["people"][0]["shifts"] == 0 and nobody["rotations"] == []
    # A shorter window: the last 3 days hold alice's Sunday page and bob's Saturday shift.
    short = paged.get("/api/v1/oncall/health", params={"since": "3d"}).json()
    assert {p["user"]: p["pages"] for p in short["people"]} == {"alice": 2, "bob": 0, "dave": 0}


def test_business_hours_come_from_the_schedules_compensation(paged: Api) -> None:
    doc = ops_config()
    doc["schedules"][0]["compensation"] = {"business_hours": "07:00-22:00"}
    apply(paged, doc)
    alice = paged.get("/api/v1/oncall/health", params={"user": "alice"}).json()["people"][0]
    # Monday 21:00 in Berlin is now within business hours.
    assert alice["off_hours_pages"] == 4 and "off_hours" not in alice["flags"]


def test_health_rejects_bad_ranges(mon: Api) -> None:
    for params, field in (
        ({"since": "a week"}, "since"),
        ({"since": "0d"}, "since"),
        ({"start": "2026-03-05T00:00Z", "end": "2026-03-01T00:00Z"}, "end"),
        ({"start": "2020-01-01T00:00Z"}, "end"),
        ({"start": "2026-03-01T00:00Z", "since": "7d"}, "since"),
    ):
        r = mon.get("/api/v1/oncall/health", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["field"] == field
    assert mon.get("/api/v1/oncall/health", params={"schedule": "nope"}).status_code == 404
    assert mon.get("/api/v1/oncall/health", params={"user": "nope"}).status_code == 404


def test_no_query_makes_a_500(mon: Api) -> None:
    text = st.one_of(
        st.none(),
        st.text(max_size=12),
        st.sampled_from(["28d", "0h", "99999999999999d", "2026-03-01T00:00Z", "-1w", "٣d"]),
    )

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(since=text, start=text, end=text, user=text, schedule=text)
    def check(**params: str | None) -> None:
        r = mon.get("/api/v1/oncall/health", params={k: v for k, v in params.items() if v})
        assert r.status_code in (200, 404, 422), (params, r.text)

    check()


def test_cli_health_prints_tables_and_flags(
    live_server: LiveServer, people: dict[str, str], paged: Api
) -> None:
    env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people["bob"]}
    result = CliRunner().invoke(main, ["oncall", "health"], env=env)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("On-call health, Mon 2026-02-09 09:00 UTC → Mon 2026-03-09 09:00 UTC")
    alice_row = next(line for line in out.splitlines() if line.startswith("alice"))
    assert alice_row.split()[:6] == ["alice", "Europe/Berlin", "4", "96.0", "6", "1.5"]
    assert "5 (83%)" in alice_row and "2 (33%)" in alice_row
    assert "Flags:" in out and "alice was paged 5 times off-hours" in out
    result = CliRunner().invoke(
        main, ["oncall", "health", "--user", "bob", "--since", "2w", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["user"] == "bob" and body["people"][0]["pages"] == 2
    result = CliRunner().invoke(main, ["oncall", "health", "--since", "soon"], env=env)
    assert result.exit_code != 0 and "28d" in result.output


def test_web_schedule_page_shows_health_and_flags(client: Any, paged: Api, db: Database) -> None:
    give_password(db, "bob")
    login(client, "bob")
    page = text_of(client.get("/oncall").text)
    assert "On-call health (last 28 days)" in page
    assert "alice was paged 5 times off-hours" in page
    assert "rotation ops: 2 of 8 pages (25%) were non-actionable" in page
    assert "Off-hours: outside 09:00–17:00 on weekdays" in page
