"""On-call over the store: config as code, API, overrides, calendar feeds, report, web, CLI.

The clock starts at Monday 2026-03-02 09:00 UTC (10:00 in Berlin): the example's
payments rotation (from Monday 2026-01-05, handoff Monday 10:00 Berlin) hands over to
its ninth shift right then: carol as primary, bob as secondary (offset by 3 shifts).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import Api, LiveServer
from tests.test_web import give_password, login
from warroom.cli.main import main
from warroom.config.loader import load
from warroom.core.clock import ManualClock
from warroom.db.session import Database
from warroom.oncall.models import FeedToken

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def example(*schedules: str) -> dict[str, Any]:
    """The example's teams and schedules (the people come from the `people` fixture)."""
    data = load(EXAMPLE).data
    scheds = [s for s in data["schedules"] if not schedules or s["name"] in schedules]
    return {"teams": data["teams"], "schedules": json.loads(json.dumps(scheds, default=str))}


def apply(api: Api, doc: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    r = api.post("/api/v1/config/apply", json={"config": doc, "dry_run": dry_run})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def acme(admin: Api) -> Api:
    apply(admin, example())
    return admin


def who(api: Api, schedule: str, at: datetime) -> list[tuple[str, str | None]]:
    r = api.get(f"/api/v1/schedules/{schedule}/oncall", params={"at": z(at)})
    assert r.status_code == 200, r.text
    return [(x["level_name"], x["user"]) for x in r.json()["oncall"]]


# --- config as code -------------------------------------------------------------------------


def test_apply_creates_schedules_warns_and_round_trips(admin: Api) -> None:
    doc = example()
    plan = apply(admin, doc, dry_run=True)
    assert {(c["action"], c["kind"], c["name"]) for c in plan["changes"]} >= {
        ("create", "schedules", "payments"),
        ("create", "schedules", "platform"),
    }
    assert admin.get("/api/v1/schedules").json() == []
    out = apply(admin, doc)
    # The follow-the-sun regions are small: burnout warnings, but no gap.
    assert len(out["warnings"]) == 3
    assert all("fewer than 5" in w for w in out["warnings"])
    assert not any("nobody on call" in w for w in out["warnings"])
    assert apply(admin, doc)["changes"] == []
    exported = yaml.safe_load(admin.get("/api/v1/config/export").text)
    assert [s["name"] for s in exported["schedules"]] == ["payments", "platform"]
    assert apply(admin, exported)["changes"] == []
    # Changing a layer is an update; dropping a schedule deletes it.
    doc["schedules"][0]["layers"][1]["offset"] = 2
    assert [(c["action"], c["name"], c["fields"]) for c in apply(admin, doc)["changes"]] == [
        ("update", "payments", ["layers"])
    ]
    doc["schedules"] = doc["schedules"][:1]
    assert [(c["action"], c["name"]) for c in apply(admin, doc)["changes"]] == [
        ("delete", "platform")
    ]
    assert [s["name"] for s in admin.get("/api/v1/schedules").json()] == ["payments"]


def test_apply_warns_about_gaps_and_small_rotations(admin: Api) -> None:
    doc = {
        "teams": [{"name": "ops", "members": ["alice"]}],
        "schedules": [
            {
                "name": "office",
                "team": "ops",
                "timezone": "Europe/Berlin",
                "layers": [
                    {
                        "name": "day",
                        "members": ["alice", "bob"],
                        "shift": "daily",
                        "handoff": "09:00",
                        "restrictions": [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
                    }
                ],
            }
        ],
    }
    warnings = apply(admin, doc)["warnings"]
    assert any("rotates 2 people" in w for w in warnings)
    assert any("nobody on call (primary)" in w for w in warnings)
    page = admin.get("/api/v1/schedules/office").json()
    assert {w["kind"] for w in page["warnings"]} == {"burnout", "gap"}


def test_config_problems_name_the_file_line_and_field(admin: Api, tmp_path: Path) -> None:
    conf = tmp_path / "oncall.yaml"
    conf.write_text(
        """teams:
  - name: ops
schedules:
  - name: ops
    team: nosuchteam
    timezone: Mars/Olympus
    layers:
      - name: primary
        members: [alice, nobody]
        shift: fortnightly
        handoff: 10:00
      - name: primary
        members: [bob]
        handoff: "Funday 10:00"
        restrictions:
          - {days: [mon, xyz], start: "09:00", end: "17:00"}
"""
    )
    loaded = load(conf)
    r = admin.post("/api/v1/config/apply", json={"config": loaded.data})
    assert r.status_code == 422, r.text
    problems = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert "quotes" in problems["schedules[0].layers[0].handoff"]
    # With the handoff quoted the other problems show.
    conf.write_text(conf.read_text().replace("handoff: 10:00", 'handoff: "10:00"'))
    loaded = load(conf)
    r = admin.post("/api/v1/config/apply", json={"config": loaded.data})
    assert r.status_code == 422, r.text
    problems = {p["location"]: p["message"] for p in r.json()["problems"]}
    assert problems["schedules[0].team"] == "unknown team 'nosuchteam'"
    assert "IANA" in problems["schedules[0].timezone"]
    assert problems["schedules[0].layers[0].members[1]"] == "unknown user 'nobody'"
    assert "fortnightly" in problems["schedules[0].layers[0].shift"]
    assert problems["schedules[0].layers[1].name"] == "duplicate layer 'primary'"
    assert "Funday" in problems["schedules[0].layers[1].handoff"]
    where = {p["location"]: loaded.locate(tuple(p["path"])) for p in r.json()["problems"]}
    assert where["schedules[0].team"] == (str(conf), 5)
    assert where["schedules[0].layers[0].members[1]"] == (str(conf), 9)
    assert where["schedules[0].layers[1].handoff"] == (str(conf), 14)


def test_a_team_with_schedules_cannot_be_dropped_alone(acme: Api) -> None:
    data = load(EXAMPLE).data
    teams = [t for t in data["teams"] if t["name"] != "platform"]
    r = acme.post("/api/v1/config/apply", json={"config": {"teams": teams}})
    assert r.status_code == 422
    assert "owns schedule 'platform'" in r.json()["error"]


# --- who is on call -------------------------------------------------------------------------


def test_who_is_on_call_now_at_t_and_over_a_range(acme: Api, clock: ManualClock) -> None:
    body = acme.get("/api/v1/oncall", params={"schedule": "payments"}).json()
    assert body["at"] == z(T0)
    assert [(x["level_name"], x["user"], x["end"]) for x in body["oncall"]] == [
        ("primary", "carol", "2026-03-09T09:00:00Z"),
        ("secondary", "bob", "2026-03-09T09:00:00Z"),
    ]
    assert who(acme, "payments", T0 - timedelta(minutes=1)) == [
        ("primary", "dave"),
        ("secondary", "alice"),
    ]
    clock.advance(days=7)
    assert [x["user"] for x in acme.get("/api/v1/schedules/payments/oncall").json()["oncall"]] == [
        "erin",
        "dave",
    ]
    # Follow the sun: 03:00 UTC is Singapore's day, 12:00 Lisbon's, 18:00 New York's.
    assert who(acme, "platform", T0 - timedelta(hours=6)) == [("primary", "carol")]
    assert who(acme, "platform", T0 + timedelta(hours=3))[0][1] in ("dave", "alice")
    assert who(acme, "platform", T0 + timedelta(hours=9))[0][1] in ("erin", "bob")
    everything = acme.get("/api/v1/oncall", params={"at": z(T0)}).json()["oncall"]
    assert {x["schedule"] for x in everything} == {"payments", "platform"}

    r = acme.get(
        "/api/v1/schedules/payments/shifts",
        params={"start": z(T0), "end": z(T0 + timedelta(days=14))},
    )
    assert r.status_code == 200, r.text
    final = [(s["level"], s["user"], s["start"]) for s in r.json()["final"]]
    assert final == [
        (1, "carol", "2026-03-02T09:00:00Z"),
        (2, "bob", "2026-03-02T09:00:00Z"),
        (1, "erin", "2026-03-09T09:00:00Z"),
        (2, "dave", "2026-03-09T09:00:00Z"),
    ]
    assert r.json()["gaps"] == [] and r.json()["warnings"] == []
    assert set(r.json()["layers"]) == {"primary", "secondary"}
    # Ranges are validated.
    bad = acme.get("/api/v1/schedules/payments/shifts", params={"start": z(T0), "end": z(T0)})
    assert bad.status_code == 422
    assert acme.get("/api/v1/schedules/nope/oncall").status_code == 404
    assert acme.get("/api/v1/oncall", params={"at": "yesterday"}).status_code == 422


def test_service_entry_point_for_escalation(acme: Api, db: Database) -> None:
    from warroom.oncall.service import on_call_user_ids, who_is_on_call
    from warroom.org.models import User

    with db.read() as s:
        spans = who_is_on_call(s, "payments", T0 + timedelta(hours=1))
        assert [(x.level, x.user) for x in spans] == [(1, "carol"), (2, "bob")]
        assert [x.user for x in who_is_on_call(s, "payments", T0, level=2)] == ["bob"]
        carol = s.scalar(select(User.id).where(User.name == "carol"))
        assert on_call_user_ids(s, "payments", T0) == [carol]


def test_overrides_create_list_and_delete(acme: Api, alice: Api, carol: Api) -> None:
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=8)
    r = alice.post(
        "/api/v1/schedules/payments/overrides",
        json={"user": "alice", "covering": "carol", "start": z(start), "end": z(end)},
    )
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    assert r.json()["created_by"] == "alice"
    mid = start + timedelta(hours=1)
    assert who(acme, "payments", mid) == [("primary", "alice"), ("secondary", "bob")]
    at = acme.get("/api/v1/oncall", params={"schedule": "payments", "at": z(mid)}).json()
    assert at["oncall"][0]["override"] == oid and at["oncall"][0]["covering"] == "carol"
    # Without --covering the override takes the primary.
    r = alice.post(
        "/api/v1/schedules/payments/overrides",
        json={"user": "dave", "start": z(T0 + timedelta(days=2)), "end": z(T0 + timedelta(days=3))},
    )
    assert r.status_code == 201
    assert who(acme, "payments", T0 + timedelta(days=2, hours=1))[0] == ("primary", "dave")
    assert [o["id"] for o in acme.get("/api/v1/schedules/payments/overrides").json()] == [
        oid,
        r.json()["id"],
    ]
    # Validation and permissions.
    bad = alice.post(
        "/api/v1/schedules/payments/overrides",
        json={"user": "alice", "start": z(end), "end": z(start)},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "end"
    naive = alice.post(
        "/api/v1/schedules/payments/overrides",
        json={"user": "alice", "start": "2026-03-03T09:00", "end": "2026-03-03T10:00"},
    )
    assert naive.status_code == 422
    unknown = alice.post(
        "/api/v1/schedules/payments/overrides",
        json={"user": "zed", "start": z(start), "end": z(end)},
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "user"
    assert (
        carol.post(
            "/api/v1/schedules/payments/overrides",
            json={"user": "carol", "start": z(start), "end": z(end)},
        ).status_code
        == 403
    )
    assert alice.delete(f"/api/v1/schedules/payments/overrides/{oid}").status_code == 204
    assert alice.delete(f"/api/v1/schedules/payments/overrides/{oid}").status_code == 404
    assert who(acme, "payments", mid) == [("primary", "carol"), ("secondary", "bob")]


# --- calendar feeds -------------------------------------------------------------------------


def events_at(cal: icalendar.Calendar, t: datetime) -> list[str]:
    out = []
    for ev in cal.walk("VEVENT"):
        s, e = ev.decoded("dtstart"), ev.decoded("dtend")
        if s <= t < e:
            out.append(str(ev.get("summary")))
    return sorted(out)


def test_schedule_and_user_feeds_agree_with_the_api(
    acme: Api, alice: Api, client: TestClient, db: Database, clock: ManualClock
) -> None:
    alice.post(
        "/api/v1/schedules/payments/overrides",
        json={
            "user": "alice",
            "covering": "erin",
            "start": z(T0 + timedelta(days=8)),
            "end": z(T0 + timedelta(days=9, hours=5)),
        },
    )
    r = alice.post("/api/v1/schedules/payments/feed")
    assert r.status_code == 200, r.text
    token, path = r.json()["token"], r.json()["path"]
    assert path == f"/oncall/feeds/{token}.ics"
    with db.read() as s:
        hashes = list(s.scalars(select(FeedToken.token_hash)))
    assert token not in hashes and len(hashes) == 1  # stored hashed
    feed = client.get(path)  # no login: the URL is the secret
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(feed.content)
    assert str(cal.get("x-wr-calname")) == "On call: payments"
    uids = [str(ev.get("uid")) for ev in cal.walk("VEVENT")]
    assert len(uids) == len(set(uids))

    mine = alice.post("/api/v1/oncall/feed").json()
    mycal = icalendar.Calendar.from_ical(client.get(mine["path"]).content)
    assert str(mycal.get("x-wr-calname")) == "On call: alice"

    # Every 5 hours 7 minutes over five weeks: the feed says what the API says.
    t = T0 - timedelta(days=6)
    checked = 0
    while t < T0 + timedelta(days=30):
        api = acme.get("/api/v1/oncall", params={"at": z(t)}).json()["oncall"]
        expected = sorted(
            f"On call: {x['user']} (payments, {x['level_name']})"
            + (" [override]" if x["override"] is not None else "")
            for x in api
            if x["schedule"] == "payments" and x["user"]
        )
        assert events_at(cal, t) == expected, t
        alice_expected = sorted(
            f"On call: alice ({x['schedule']}, {x['level_name']})"
            + (" [override]" if x["override"] is not None else "")
            for x in api
            if x["user"] == "alice"
        )
        assert events_at(mycal, t) == alice_expected, t
        checked += 1
        t += timedelta(hours=5, minutes=7)
    assert checked > 150

    # As days pass, events keep their UIDs (the first one is not cut at the window).
    first = {str(ev.get("uid")): ev.decoded("dtstart") for ev in cal.walk("VEVENT")}
    clock.advance(days=3)
    later = icalendar.Calendar.from_ical(client.get(path).content)
    again = {str(ev.get("uid")): ev.decoded("dtstart") for ev in later.walk("VEVENT")}
    assert min(again.values()) < T0 + timedelta(days=3) - timedelta(days=7)
    assert all(first[uid] == start for uid, start in again.items() if uid in first)
    assert len(set(first) & set(again)) >= len(first) - 1

    # A new token replaces the old one; a wrong token finds nothing.
    alice.post("/api/v1/schedules/payments/feed")
    assert client.get(path).status_code == 404
    assert client.get("/oncall/feeds/wrcal_nope.ics").status_code == 404
    assert alice.post("/api/v1/oncall/feed", params={"user": "bob"}).status_code == 403
    assert acme.post("/api/v1/oncall/feed", params={"user": "bob"}).status_code == 200


# --- compensation ---------------------------------------------------------------------------


def test_compensation_report_json_and_csv(admin: Api) -> None:
    apply(admin, example("payments"))
    start, end = T0, T0 + timedelta(days=7)
    r = admin.get("/api/v1/oncall/report", params={"from": z(start), "to": z(end)})
    assert r.status_code == 200, r.text
    rows = {x["user"]: x for x in r.json()["rows"]}
    assert set(rows) == {"carol", "bob"}
    carol = rows["carol"]  # in UTC: Monday 09:00 to Monday 09:00
    assert (carol["weekday_hours"], carol["off_hours_hours"], carol["weekend_hours"]) == (
        40.0,
        80.0,
        48.0,
    )
    assert carol["total_hours"] == 168.0
    assert carol["amounts"] == {"USD": round(120 * 1.67 + 48 * 10.42, 2)}
    assert carol["period"] == "2026-03-01"
    weekly = admin.get(
        "/api/v1/oncall/report", params={"from": z(start), "to": z(end), "period": "week"}
    ).json()["rows"]
    assert [(x["period"], x["user"], x["total_hours"]) for x in weekly] == [
        ("2026-03-02", "bob", 159.0),
        ("2026-03-02", "carol", 159.0),
        ("2026-03-09", "bob", 9.0),
        ("2026-03-09", "carol", 9.0),
    ]
    text = admin.get(
        "/api/v1/oncall/report", params={"from": z(start), "to": z(end), "format": "csv"}
    ).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(x["user"], x["total_hours"], x["currency"], x["amount"]) for x in table] == [
        ("bob", "168.0", "USD", f"{120 * 1.67 + 48 * 10.42:.2f}"),
        ("carol", "168.0", "USD", f"{120 * 1.67 + 48 * 10.42:.2f}"),
    ]
    assert admin.get("/api/v1/oncall/report", params={"period": "year"}).status_code == 422


# --- web ------------------------------------------------------------------------------------


def test_schedule_page_shows_timeline_overrides_gaps_and_warnings(
    acme: Api, alice: Api, client: TestClient, db: Database
) -> None:
    apply(
        acme,
        {
            **example(),
            "schedules": [
                *example()["schedules"],
                {
                    "name": "office",
                    "team": "payments",
                    "layers": [
                        {
                            "name": "day",
                            "members": ["alice"],
                            "shift": "daily",
                            "handoff": "09:00",
                            "restrictions": [
                                {"days": "weekdays", "start": "09:00", "end": "17:00"}
                            ],
                        }
                    ],
                },
            ],
        },
    )
    alice.post(
        "/api/v1/schedules/payments/overrides",
        json={
            "user": "alice",
            "covering": "carol",
            "start": z(T0 + timedelta(days=1)),
            "end": z(T0 + timedelta(days=2)),
            "note": "dentist",
        },
    )
    give_password(db, "alice")
    assert login(client, "alice").url.path == "/incidents"
    page = client.get("/oncall")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/oncall">On call</a>' in html
    assert 'id="schedule-payments"' in html and 'id="schedule-platform"' in html
    assert html.count('class="bar override"') >= 1
    assert "covering carol" in html
    assert 'class="bar gap"' in html  # the office schedule's nights and weekends
    assert "fewer than 5" in html and "nobody on call" in html
    assert "dentist" in html
    # Adding an override through the page's form (times in the schedule's zone).
    csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/oncall/payments/overrides",
        data={
            "csrf": csrf,
            "user": "dave",
            "covering": "",
            "start": "2026-03-05T10:00",
            "end": "2026-03-05T12:00",
            "note": "swap",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    assert who(acme, "payments", datetime(2026, 3, 5, 9, 30, tzinfo=UTC))[0] == (
        "primary",
        "dave",
    )


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli(live_server: LiveServer, people: dict[str, str], acme: Api) -> Any:
    def run(*args: str, token: str = "alice", ok: bool = True) -> Any:
        env = {"WARROOM_URL": live_server.url, "WARROOM_TOKEN": people[token]}
        result = CliRunner().invoke(main, list(args), env=env)
        assert (result.exit_code == 0) is ok, result.output
        return result

    return run


def test_cli_now_show_override_report_and_feed(cli: Any) -> None:
    rows = json.loads(cli("oncall", "now", "--schedule", "payments", "--json").stdout)["oncall"]
    assert [(r["level_name"], r["user"]) for r in rows] == [
        ("primary", "carol"),
        ("secondary", "bob"),
    ]
    out = cli("oncall", "now").stdout
    assert "payments" in out and "platform" in out and "carol" in out

    out = cli("oncall", "show", "payments", "--days", "14").stdout
    assert out.splitlines()[0].startswith("payments: Mon 2026-03-02 09:00 UTC")
    lines = out.splitlines()
    assert sum(1 for line in lines if line.startswith("primary")) == 2
    assert [line.split()[1] for line in lines[2:6]] == ["carol", "bob", "erin", "dave"]
    shown = json.loads(cli("oncall", "show", "payments", "--days", "7", "--json").stdout)
    assert [s["user"] for s in shown["final"]] == ["carol", "bob"]

    made = json.loads(
        cli(
            "oncall",
            "override",
            "payments",
            "alice",
            "--start",
            "2026-03-03T09:00Z",
            "--end",
            "2026-03-03T18:00",
            "--covering",
            "carol",
            "--json",
        ).stdout
    )
    assert made["covering"] == "carol" and made["end"] == "2026-03-03T18:00:00Z"
    out = cli("oncall", "show", "payments", "--days", "3").stdout
    assert "override, covering carol" in out
    listed = json.loads(cli("oncall", "overrides", "payments", "--json").stdout)
    assert [o["id"] for o in listed] == [made["id"]]
    cli("oncall", "remove-override", "payments", str(made["id"]))
    assert json.loads(cli("oncall", "overrides", "payments", "--json").stdout) == []
    r = cli("oncall", "override", "payments", "alice", "--start", "x", "--end", "y", ok=False)
    assert "ISO 8601" in r.output

    csv_text = cli(
        "oncall", "report", "--from", "2026-03-02T09:00Z", "--to", "2026-03-09T09:00Z", "--csv"
    ).stdout
    assert csv_text.splitlines()[0].startswith("period,user,timezone,weekday_hours")
    body = json.loads(
        cli(
            "oncall", "report", "--from", "2026-03-02T09:00Z", "--to", "2026-03-03T09:00Z", "--json"
        ).stdout
    )
    assert {r["user"] for r in body["rows"]} >= {"carol", "bob"}
    out = cli("oncall", "report", "--from", "2026-03-02T09:00Z", "--to", "2026-03-03T09:00Z").stdout
    assert "USD" in out

    out = cli("oncall", "feed", "--schedule", "payments").stdout
    assert "/oncall/feeds/wrcal_" in out
    feed = json.loads(cli("oncall", "feed", "--json").stdout)
    assert feed["for"] == "alice"


def test_cli_apply_prints_schedule_warnings(cli: Any, tmp_path: Path) -> None:
    conf = tmp_path / "oncall.yaml"
    doc = example()
    doc["schedules"][0]["layers"][0]["restrictions"] = [
        {"days": "weekdays", "start": "09:00", "end": "17:00"}
    ]
    conf.write_text(yaml.safe_dump(doc))
    r = cli("apply", str(conf), token="admin")
    assert "warning: schedule 'platform' layer 'apac' rotates 1 person" in r.stderr
    assert "warning: schedule 'payments' has nobody on call (primary)" in r.stderr
    assert "  ~ update schedule payments (layers)" in r.stdout
    body = json.loads(cli("apply", str(conf), "--json", token="admin").stdout)
    assert len(body["warnings"]) == 4 and body["changes"] == []


# --- robustness -----------------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["09:00", "24:00", "Monday 10:00", "daily", "weekly", "12h", "0001-01-01", "9999-12-31"]
    ),
)
values = st.one_of(st.none(), st.integers(-5, 10**6), texts, st.lists(texts, max_size=3))
layer_docs = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b"]), "members": st.just(["alice", "bob"])},
    optional={
        k: values
        for k in ("level", "shift", "handoff", "timezone", "start", "offset", "restrictions")
    },
)
instants = st.one_of(
    texts,
    st.sampled_from(
        ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-03-29T02:30:00+01:00"]
    ),
)


def test_no_schedule_input_makes_a_500(acme: Api) -> None:
    from hypothesis import HealthCheck

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(layer_docs, min_size=1, max_size=2), instants, instants, values)
    def check(layers: list[dict[str, Any]], a: str, b: str, anything: Any) -> None:
        doc = {"schedules": [{"name": "fuzz", "team": "payments", "layers": layers}]}
        r = acme.post("/api/v1/config/apply", json={"config": doc, "dry_run": True})
        assert r.status_code < 500, (doc, r.text)
        r = acme.post(
            "/api/v1/schedules/payments/overrides",
            json={"user": "alice", "start": a, "end": b, "covering": anything},
        )
        assert r.status_code < 500, (a, b, r.text)
        for path, params in (
            ("/api/v1/oncall", {"at": a}),
            ("/api/v1/schedules/payments/shifts", {"start": a, "end": b}),
            ("/api/v1/oncall/report", {"from": a, "to": b}),
        ):
            r = acme.get(path, params=params)
            assert r.status_code < 500, (path, params, r.text)

    check()
