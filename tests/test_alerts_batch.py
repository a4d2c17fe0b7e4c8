"""Group commit of alert events: repeats of open alerts are bumped in one statement per
batch, everything else goes through the full rules, and per-key order holds."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from tests.conftest import Api
from warroom.alerts.models import Alert, Integration
from warroom.alerts.parsers import NormalizedEvent
from warroom.alerts.writer import Ingestor
from warroom.core.clock import ManualClock
from warroom.db.session import Database


def _integration(admin: Api, name: str = "pd", service: str | None = None) -> None:
    r = admin.post(
        "/api/v1/integrations", json={"name": name, "kind": "pagerduty", "service": service}
    )
    assert r.status_code == 201, r.text


def _ev(action: str, key: str, summary: str | None = None, severity: str = "warning") -> Any:
    return NormalizedEvent(
        action=action,
        dedup_key=key,
        summary=f"{action} {key}" if summary is None else summary,
        source="s",
        severity=severity,
    )


def _submit_together(
    db: Database, clock: ManualClock, requests: list[list[NormalizedEvent]]
) -> list[list[Any]]:
    """Submits every request at once on one loop, so the writer takes them as one batch."""
    ing = Ingestor(db, clock)
    with db.read() as s:
        from warroom.alerts.writer import _ref

        ref = _ref(s.query(Integration).one())

    async def run() -> list[list[Any]]:
        try:
            out = await asyncio.gather(*(ing.submit(ref, events) for events in requests))
        finally:
            await ing.close()
        return list(out)

    return asyncio.run(run())


def _alerts(db: Database) -> dict[tuple[str, str], SimpleNamespace]:
    cols = ("id", "dedup_key", "status", "occurrences", "summary", "source_severity", "last_seen")
    with db.read() as s:
        rows = [SimpleNamespace(**{c: getattr(a, c) for c in cols}) for a in s.query(Alert)]
    return {(a.dedup_key, a.status): a for a in rows}


def test_one_batch_mixing_repeats_new_keys_and_resolutions(
    db: Database, clock: ManualClock, admin: Api
) -> None:
    _integration(admin)
    first = _submit_together(
        db, clock, [[_ev("trigger", "a")], [_ev("trigger", "b")], [_ev("trigger", "c")]]
    )
    assert [[o.action for o in r] for r in first] == [["created"], ["created"], ["created"]]
    clock.advance(minutes=1)
    out = _submit_together(
        db,
        clock,
        [
            [_ev("trigger", "a"), _ev("trigger", "new")],
            [_ev("trigger", "a", summary=""), _ev("trigger", "b")],
            [_ev("resolve", "b")],
            [_ev("trigger", "b"), _ev("acknowledge", "c")],
            [_ev("trigger", "a", severity="critical", summary="third a")],
            [_ev("resolve", "missing"), _ev("trigger", "new")],
        ],
    )
    assert [[o.action for o in r] for r in out] == [
        ["updated", "created"],
        ["updated", "updated"],
        ["resolved"],
        ["created", "acknowledged"],
        ["updated"],
        ["ignored", "updated"],
    ]
    rows = _alerts(db)
    a = rows[("a", "triggered")]
    assert a.occurrences == 4 and a.summary == "third a" and a.source_severity == "critical"
    assert a.last_seen == clock.now()
    assert out[0][0].alert_id == a.id
    assert rows[("b", "resolved")].occurrences == 2
    assert rows[("b", "triggered")].occurrences == 1
    assert rows[("c", "acknowledged")].occurrences == 1
    assert rows[("new", "triggered")].occurrences == 2
    assert len(rows) == 5


def test_blank_summary_keeps_the_last_one_given(
    db: Database, clock: ManualClock, admin: Api
) -> None:
    _integration(admin)
    _submit_together(db, clock, [[_ev("trigger", "k", summary="disk 91%")]])
    _submit_together(
        db,
        clock,
        [[_ev("trigger", "k", summary="disk 95%")], [_ev("trigger", "k", summary="")]],
    )
    (alert,) = _alerts(db).values()
    assert alert.occurrences == 3 and alert.summary == "disk 95%"


def test_repeats_answer_with_their_incident(db: Database, clock: ManualClock, admin: Api) -> None:
    admin.post(
        "/api/v1/config/apply",
        json={"config": {"teams": [{"name": "t"}], "services": [{"name": "api", "owner": "t"}]}},
    )
    _integration(admin, service="api")
    (first,) = _submit_together(db, clock, [[_ev("trigger", "k", severity="critical")]])
    assert first[0].incident == "INC-1"
    (again,) = _submit_together(db, clock, [[_ev("trigger", "k", severity="critical")]])
    assert again[0].action == "updated" and again[0].incident == "INC-1"
    assert again[0].alert_id == first[0].alert_id


def test_failures_neither_lose_nor_double_count_repeats(
    db: Database, clock: ManualClock, admin: Api, monkeypatch: Any
) -> None:
    """A batch whose long path fails is retried request by request; repeats already
    bumped (on PostgreSQL, in a statement of their own) are not bumped twice, and a
    failed bump leaves them to the transaction."""
    from sqlalchemy import Connection

    from warroom.alerts import ingestion, repeats

    _integration(admin)
    _submit_together(db, clock, [[_ev("trigger", "a")], [_ev("trigger", "b")]])

    real_ingest = ingestion.ingest
    failed = []

    def ingest_failing_once(*args: Any, **kw: Any) -> Any:
        if not failed:
            failed.append(True)
            raise RuntimeError("injected")
        return real_ingest(*args, **kw)

    monkeypatch.setattr(ingestion, "ingest", ingest_failing_once)
    out = _submit_together(
        db, clock, [[_ev("trigger", "a")], [_ev("trigger", "b"), _ev("trigger", "new")]]
    )
    assert failed
    assert [[o.action for o in r] for r in out] == [["updated"], ["updated", "created"]]

    real_bump = repeats.bump_open

    def bump_failing_on_its_own_connection(conn: Any, *args: Any) -> Any:
        if isinstance(conn, Connection):
            raise RuntimeError("injected")
        return real_bump(conn, *args)

    monkeypatch.setattr(repeats, "bump_open", bump_failing_on_its_own_connection)
    out = _submit_together(db, clock, [[_ev("trigger", "a")], [_ev("trigger", "b")]])
    assert [[o.action for o in r] for r in out] == [["updated"], ["updated"]]
    rows = _alerts(db)
    assert rows[("a", "triggered")].occurrences == 3
    assert rows[("b", "triggered")].occurrences == 3
    assert rows[("new", "triggered")].occurrences == 1


def test_writer_refreshes_statistics_as_a_storm_grows_the_table(
    db: Database, clock: ManualClock, admin: Api
) -> None:
    _integration(admin)
    ing = Ingestor(db, clock, analyze_after=3)
    with db.read() as s:
        from warroom.alerts.writer import _ref

        ref = _ref(s.query(Integration).one())

    async def run() -> None:
        try:
            await asyncio.gather(*(ing.submit(ref, [_ev("trigger", f"k{i}")]) for i in range(5)))
        finally:
            await ing.close()

    asyncio.run(run())
    assert len(_alerts(db)) == 5
    if db.dialect == "postgresql":
        assert ing._analyzing is not None and ing._analyzing.done()
        assert ing._rows_at_analyze == 5
    else:
        assert ing._analyzing is None
