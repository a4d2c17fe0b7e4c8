"""Postmortem rules (pure): when one is required, when it is due, the review gate and the
blameless language check.

Invariants:
- `decide` never lowers the severity's policy: a config rule can only raise the level
  (optional < recommended < required). A drill gets its own level (`drills`) instead.
- "Longer than N minutes" is strict: an incident of exactly N minutes does not trigger it.
- A postmortem is overdue only after its due time; at exactly the due time it is due,
  not overdue.
- The gate lists every reason a document may not be published, each naming the field;
  an empty list means it may be published.
- The blameless check reports spans (start, end) into the text it was given, never
  rewrites it; a finding is advice until a reviewer overrides it with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

LEVELS = ("optional", "recommended", "required")
STATUSES = ("draft", "in_review", "published")
PRIORITIES = ("P0", "P1", "P2", "P3")
KINDS = ("prevent", "detect", "mitigate", "process", "runbook")
ITEM_STATUSES = ("open", "in_progress", "done", "wont_do")
VERDICTS = ("approve", "request_changes", "comment")
PLACEHOLDER = "[not recorded:"
DEFAULT_DUE_HOURS = 168

# The twelve recurring incident patterns (seed 003): tags for contributing factors.
PATTERNS: dict[str, str] = {
    "deploy-and-pray": "No canary, no staged rollout",
    "config-bomb": "Config change bypasses CI/CD safety",
    "dependency-roulette": "Upstream service fails, takes you down",
    "thundering-herd": "All caches expire simultaneously",
    "dns-time-bomb": "TTL too high, failover is slow",
    "certificate-expiry": "TLS certificate expires, HTTPS breaks",
    "disk-full": "Logs or data fill disk, service crashes",
    "connection-pool-exhaustion": "Slow queries hold connections, pool drains",
    "memory-leak": "Gradual out-of-memory over days or weeks",
    "schema-drift": "Database migration breaks backward compatibility",
    "secret-rotation-failure": "A rotated secret was not updated in every service",
    "region-failover-untested": "A DR plan exists but was never tested",
}

# Sections of a postmortem's content. Free text is Markdown.
TEXT_SECTIONS = (
    "summary",
    "impact",
    "timeline",
    "phases",
    "root_cause",
    "factors_text",
    "went_well",
    "went_wrong",
    "lucky",
    "lessons",
    "no_actions_reason",
)


@dataclass(frozen=True)
class Rules:
    """The `postmortems:` section of config as code (docs/config-as-code.md)."""

    longer_than_minutes: int | None = 30  # the playbook: a postmortem if longer than 30 min
    customer_detected: bool = True  # a customer noticed first: a detection failure
    error_budget_percent: float | None = 20.0  # one incident spent more: required (SLO hook)
    drills: str = "optional"  # the level for drills, whatever the rest says
    min_whys: int = 3  # the gate's minimum depth of the 5 Whys
    default_due_hours: int = DEFAULT_DUE_HOURS  # when the severity names no due time
    remind_before_hours: int = 24  # the first reminder, before the due time
    repeat_hours: int = 24  # overdue reminders repeat this often
    # Trackers: action items are posted here (signed) when created or changed.
    action_items_webhook_url: str = ""
    action_items_webhook_secret_env: str = ""  # the server's environment variable with the key

    def to_dict(self) -> dict[str, Any]:
        return {
            "longer_than_minutes": self.longer_than_minutes,
            "customer_detected": self.customer_detected,
            "error_budget_percent": self.error_budget_percent,
            "drills": self.drills,
            "min_whys": self.min_whys,
            "default_due_hours": self.default_due_hours,
            "remind_before_hours": self.remind_before_hours,
            "repeat_hours": self.repeat_hours,
            "action_items_webhook_url": self.action_items_webhook_url,
            "action_items_webhook_secret_env": self.action_items_webhook_secret_env,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Rules:
        known = set(cls().to_dict())
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass(frozen=True)
class Decision:
    level: str  # optional | recommended | required
    reasons: list[str]
    due_hours: int


def _raise(level: str, to: str) -> str:
    return to if LEVELS.index(to) > LEVELS.index(level) else level


def decide(
    *,
    severity: str,
    policy: str | None,
    due_hours: int | None,
    duration_minutes: float,
    detection_source: str,
    drill: bool,
    rules: Rules,
    budget_percent: float | None = None,
) -> Decision:
    """Whether an incident that was just resolved needs a postmortem, why, and how many
    hours after resolution it is due. `budget_percent` is the share of an SLO's error
    budget the incident spent (None while no SLO says)."""
    hours = due_hours if due_hours and due_hours > 0 else rules.default_due_hours
    if drill:
        return Decision(rules.drills, [f"drill: the drills setting is {rules.drills}"], hours)
    level = policy if policy in LEVELS else "optional"
    reasons = [f"{severity} policy: {level}"]
    limit = rules.longer_than_minutes
    if limit is not None and duration_minutes > limit:
        level = _raise(level, "required")
        reasons.append(f"lasted {int(duration_minutes)} min, longer than {limit} min")
    if rules.customer_detected and detection_source == "customer_report":
        level = _raise(level, "required")
        reasons.append("detected by a customer report")
    share = rules.error_budget_percent
    if share is not None and budget_percent is not None and budget_percent > share:
        level = _raise(level, "required")
        reasons.append(f"spent {budget_percent:g}% of an error budget, more than {share:g}%")
    return Decision(level, reasons, hours)


def due_at(resolved_at: datetime, hours: int) -> datetime:
    """The due time: `hours` after resolution."""
    return resolved_at + timedelta(hours=hours)


def is_overdue(due: datetime | None, now: datetime, done: bool = False) -> bool:
    """After the due time and not done; exactly at the due time is not overdue."""
    return due is not None and not done and now > due


# --- the 5 Whys and the gate -----------------------------------------------------------

_HUMAN_ERROR_ONLY = re.compile(
    r"^\W*(?:the\s+)?(?:root\s+cause\s*(?:was|is|:)\s*)?"
    r"(?:a\s+)?(?:human|operator|user|engineer|developer)\s+(?:error|mistake)\W*$",
    re.I,
)


def whys_depth(whys: list[dict[str, Any]]) -> int:
    """How many levels of the 5 Whys have both a why and a because."""
    return sum(
        1 for w in whys if str(w.get("why", "")).strip() and str(w.get("because", "")).strip()
    )


def root_cause_is_human_error(root_cause: str, whys: list[dict[str, Any]]) -> bool:
    """The stated cause is only "human error" (the root cause text, or the last because)."""
    last = ""
    filled = [w for w in whys if str(w.get("because", "")).strip()]
    if filled:
        last = str(filled[-1]["because"])
    text = root_cause.strip() or last.strip()
    return bool(text) and bool(_HUMAN_ERROR_ONLY.match(text))


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def finding_key(section: str, f: Finding) -> str:
    """What a reviewer's override refers to: the section, the rule and the phrase."""
    return f"{section}:{f.rule}:{f.phrase.lower()}"


def gate(
    content: dict[str, Any],
    items: list[dict[str, Any]],
    overrides: dict[str, Any],
    *,
    min_whys: int = 3,
    names: tuple[str, ...] = (),
    needs_p0: str | None = None,
) -> list[Problem]:
    """Every reason the document may not be published yet (empty: it may be).
    `items` are its action items (owner, due_at, priority, status); `overrides` maps a
    `finding_key` to the reviewer's reason. `needs_p0` (why, e.g. the error budget the
    incident spent) demands a P0 action item that is not won't-do."""
    problems: list[Problem] = []
    impact = str(content.get("impact", ""))
    if PLACEHOLDER in impact or not impact.strip():
        problems.append(
            Problem("impact", "the impact still has facts marked [not recorded: ...]; fill them in")
            if impact.strip()
            else Problem("impact", "the impact is empty")
        )
    whys = list(content.get("whys") or [])
    if root_cause_is_human_error(str(content.get("root_cause", "")), whys):
        problems.append(
            Problem(
                "root_cause",
                '"human error" is not a root cause: ask why the system allowed it',
            )
        )
    depth = whys_depth(whys)
    if depth < min_whys:
        problems.append(
            Problem("whys", f"the 5 Whys have {depth} level(s); at least {min_whys} are needed")
        )
    live = [i for i in items if i.get("status") != "wont_do"]
    for n, item in enumerate(items):
        for name in ("owner", "due_at", "priority"):
            if not item.get(name):
                label = "due date" if name == "due_at" else name
                problems.append(
                    Problem(
                        f"action_items[{n}].{name}",
                        f"action item {item.get('id', n)} ({item.get('title', '')}) has no {label}",
                    )
                )
    if needs_p0 and not any(i.get("priority") == "P0" for i in live):
        problems.append(Problem("action_items", f"{needs_p0}: it needs a P0 action item"))
    if not live and not str(content.get("no_actions_reason", "")).strip():
        problems.append(
            Problem(
                "action_items",
                'add an action item, or say "no actions, because ..." in no_actions_reason',
            )
        )
    open_findings = 0
    for section in TEXT_SECTIONS:
        for f in lint(str(content.get(section, "")), names=names):
            if finding_key(section, f) not in overrides:
                open_findings += 1
    for n, w in enumerate(whys):
        for part in ("why", "because"):
            for f in lint(str(w.get(part, "")), names=names):
                if finding_key(f"whys[{n}].{part}", f) not in overrides:
                    open_findings += 1
    if open_findings:
        problems.append(
            Problem(
                "blameless",
                f"{open_findings} blameless-language finding(s) are unresolved: reword them "
                "or have a reviewer override them with a reason",
            )
        )
    return problems


def placeholders(text: str) -> list[str]:
    """The facts a text still marks as not recorded."""
    return re.findall(r"\[not recorded: ([^\]]+)\]", text)


# --- the blameless language check ------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    phrase: str
    rule: str
    suggestion: str
    section: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "phrase": self.phrase,
            "rule": self.rule,
            "suggestion": self.suggestion,
        }


RULES: dict[str, str] = {
    "human-error": (
        'Name the condition that made the action easy to get wrong instead of "human error", '
        'e.g. "the deploy tool accepted the change without a check".'
    ),
    "named-failure": (
        'Make the system the subject: what let this happen? e.g. "the runbook did not list '
        'the step" instead of "<name> forgot the step".'
    ),
    "counterfactual": (
        "Describe what was known at the time and what would surface it next time, e.g. "
        '"the monitoring did not show the logs" instead of "should have checked the logs".'
    ),
    "judgement": (
        "Drop the judgement and state what happened and which safeguard was missing, e.g. "
        '"the change shipped without a staging run because staging was down".'
    ),
    "who-question": (
        'Ask about the system, not the person: "what allowed this change to reach '
        'production?" instead of "who approved it?".'
    ),
}

# Words that start sentences or name things, never a person, when capitalised.
_NOT_PEOPLE = frozenset(
    """the a an this that these those it its we our us they their them he she his her you
    your i my there here then when after before during while once if and but or so because
    since although though as at on in by for from with without to of monitoring alerting
    alerts alert payments payment deploy deploys deployment release service services system
    systems database db cache caches pipeline pipelines ci cd test tests staging production
    prod api dns tls cert certificate config configuration code review reviews traffic load
    nobody everyone someone somebody team teams engineering ops sre oncall on-call users
    customers customer support network disk memory pool queue worker workers job jobs backup
    backups migration migrations rollback rollbacks canary script scripts tool tooling
    runbook runbooks dashboard dashboards gateway auth login checkout search storage kafka
    redis postgres postgresql mysql kubernetes k8s nginx terraform jenkins github gitlab""".split()  # noqa: SIM905
)

_FAILURE_VERBS = (
    r"forgot|forgets|forgotten|neglected|overlooked|ignored|broke|breaks|botched|"
    r"messed\s+up|screwed\s+up|blew\s+up|dropped\s+the\s+ball|failed\s+to|fails\s+to|"
    r"did\s+not\s+bother|didn't\s+bother|never\s+bothered|missed|skipped|"
    r"did\s+not\s+(?:check|test|verify|read|follow|notice|review|look)|"
    r"didn't\s+(?:check|test|verify|read|follow|notice|review|look)|"
    r"was\s+(?:careless|sloppy|negligent|lazy|reckless)|caused|causes|"
    r"(?:deployed|shipped|pushed|merged|released|changed)\s+(?:\w+\s+){0,3}?without"
)
_NAME = r"(?:@[\w.-]+|(?:Engineer|Developer|Operator)\s+[A-Z]\w*|[A-Z][a-z]+)"
_NAMED_FAILURE = re.compile(rf"(?<![\w@])(?P<name>{_NAME})\s+(?P<verb>{_FAILURE_VERBS})\b")
_CAUSED_BY = re.compile(
    rf"\b(?:caused|triggered|broken|started)\s+by\s+(?P<name>{_NAME})"
    r"(?P<rest>\s+(?:deploying|pushing|running|merging|changing|forgetting|not|skipping|"
    r"ignoring|making|breaking)\b|(?=[\s.,;:!?]|$))"
)
_HUMAN_ERROR = re.compile(
    r"\b(?:human|operator|user|engineer|developer|pilot|personnel)\s+(?:error|mistake|fault)s?\b",
    re.I,
)
_NEGATED_BEFORE = re.compile(r"\b(?:not|never|rather\s+than|instead\s+of|isn't|is\s+not)\s+$", re.I)
_NEGATED_AFTER = re.compile(r"^s?\s+(?:is|are)\s+(?:a\s+symptom|never|not)\b", re.I)
_COUNTERFACTUAL = re.compile(
    r"\b(?:should(?:\s+not|n't)?\s+have|ought\s+to\s+have|could\s+(?:easily\s+)?have\s+"
    r"(?:prevented|avoided|caught|stopped|checked|noticed)|would\s+not\s+have\s+happened|"
    r"wouldn't\s+have\s+happened|if\s+only|"
    r"why\s+(?:didn't\s+(?:you|they|he|she)|did\s+(?:you|they|he|she)\s+not))\b",
    re.I,
)
_JUDGEMENT = re.compile(
    r"\b(?:careless(?:ly|ness)?|sloppy|sloppiness|negligen(?:t|ce|tly)|stupid(?:ity)?|lazy|"
    r"laziness|incompeten(?:t|ce)|reckless(?:ly|ness)?|dumb|idiot(?:ic)?|clueless|"
    r"irresponsib(?:le|ly|ility)|foolish(?:ly)?|thoughtless(?:ly)?|inexcusable|"
    r"(?:be|been|being)\s+more\s+careful|lack\s+of\s+(?:care|attention|diligence)|"
    r"without\s+(?:proper|enough|any)\s+(?:testing|care|thought))\b",
    re.I,
)
_WHO = re.compile(
    r"\bwho\s+(?:approved|deployed|pushed|merged|broke|caused|wrote|signed\s+off|made|forgot|"
    r"did\s+this|did\s+that|was\s+responsible|is\s+responsible|is\s+to\s+blame|let)\b",
    re.I,
)


def _is_person(name: str, names: set[str]) -> bool:
    if name.startswith("@"):
        return True
    if " " in name:  # Engineer X
        return True
    return name.lower() in names or name.lower() not in _NOT_PEOPLE


def lint(text: str, names: tuple[str, ...] | list[str] = ()) -> list[Finding]:
    """Blame in `text`: findings in order of their start, at most one per span. `names`
    are the people the store knows (user names), counted as people even lowercase."""
    known = {n.lower() for n in names}
    found: list[Finding] = []

    def add(start: int, end: int, rule: str) -> None:
        if any(f.start < end and start < f.end for f in found):
            return
        found.append(Finding(start, end, text[start:end], rule, RULES[rule]))

    for m in _HUMAN_ERROR.finditer(text):
        before = text[max(0, m.start() - 30) : m.start()]
        if not _NEGATED_BEFORE.search(before) and not _NEGATED_AFTER.match(text[m.end() :]):
            add(m.start(), m.end(), "human-error")
    for m in _WHO.finditer(text):
        add(m.start(), m.end(), "who-question")
    for m in _NAMED_FAILURE.finditer(text):
        if _is_person(m.group("name"), known):
            add(m.start(), m.end(), "named-failure")
    if known:
        lowered = re.compile(
            r"(?<![\w@])(?P<name>"
            + "|".join(re.escape(n) for n in sorted(known, key=len, reverse=True))
            + rf")\s+(?P<verb>{_FAILURE_VERBS})\b"
        )
        for m in lowered.finditer(text):
            add(m.start(), m.end(), "named-failure")
    for m in _CAUSED_BY.finditer(text):
        if _is_person(m.group("name"), known):
            add(m.start(), m.end("name"), "named-failure")
    for m in _COUNTERFACTUAL.finditer(text):
        add(m.start(), m.end(), "counterfactual")
    for m in _JUDGEMENT.finditer(text):
        add(m.start(), m.end(), "judgement")
    return sorted(found, key=lambda f: f.start)


# --- reminders -------------------------------------------------------------------------

STAGE_BEFORE = 0  # remind_before_hours before the due time
STAGE_DUE = 1  # at the due time
# 2, 3, ...: overdue, every repeat_hours after the due time


def reminder_at(due: datetime, stage: int, before_hours: int, repeat_hours: int) -> datetime:
    """When the reminder of `stage` falls due."""
    if stage == STAGE_BEFORE:
        return due - timedelta(hours=before_hours)
    if stage == STAGE_DUE:
        return due
    return due + timedelta(hours=repeat_hours * (stage - STAGE_DUE))


def first_stage(due: datetime, now: datetime, before_hours: int, repeat_hours: int) -> int:
    """The first reminder still ahead (or due now) for a due time set now: a due time less
    than `before_hours` away skips the early reminder; one already past starts overdue."""
    stage = STAGE_BEFORE if before_hours > 0 else STAGE_DUE
    while reminder_at(due, stage, before_hours, repeat_hours) < now:
        stage += 1
    return stage


def audience(stage: int) -> tuple[str, ...]:
    """Who a reminder goes to: the owner; from the first overdue one also the owning
    teams' leads and chat channels; from the second also the admins."""
    if stage <= STAGE_DUE:
        return ("owner",)
    if stage == STAGE_DUE + 1:
        return ("owner", "leads", "team")
    return ("owner", "leads", "team", "admins")


def reminder_text(what: str, stage: int, due: datetime) -> str:
    """The reminder's first line."""
    when = f"{due:%Y-%m-%d %H:%M} UTC"
    if stage == STAGE_BEFORE:
        return f"Reminder: {what} is due {when}"
    if stage == STAGE_DUE:
        return f"Due now: {what} (due {when})"
    return f"Overdue: {what} was due {when}"


def catch_up(due: datetime, stage: int, now: datetime, before_hours: int, repeat_hours: int) -> int:
    """The stage a reminder that runs now stands for: its own, or the latest one already
    due when it runs late (an engine that was down sends one reminder, not a burst)."""
    while reminder_at(due, stage + 1, before_hours, repeat_hours) <= now:
        stage += 1
    return stage
