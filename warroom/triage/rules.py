"""Triage as pure rules: the impact x scope severity matrix (seed 004), the blast-radius
ladder with its severities and who it pages (seed 003), and dependency cycles.

Invariants:
- The suggested severity is the most severe of what the matrix says for (impact, scope)
  and what the ladder says for the blast radius: when the two disagree, assume the worst
  (downgrading later is cheap; a late escalation is not).
- Who to page grows with the blast radius and never shrinks: every rung pages the owning
  team's on-call; a core workflow adds the team lead; a full outage or data loss adds the
  incident commander and engineering management; a security breach adds security, the
  CISO and legal. Without a blast radius the suggested severity decides (SEV-1 as a full
  outage, SEV-2 as a core workflow, the rest the owning team only).
- Audiences are kept in the ladder's order, each once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

IMPACTS = ("complete_loss", "degraded", "inconvenience")
SCOPES = ("widespread", "limited", "minimal")

DEFAULT_MATRIX: dict[str, dict[str, str]] = {
    "complete_loss": {"widespread": "SEV-1", "limited": "SEV-2", "minimal": "SEV-3"},
    "degraded": {"widespread": "SEV-2", "limited": "SEV-3", "minimal": "SEV-4"},
    "inconvenience": {"widespread": "SEV-3", "limited": "SEV-4", "minimal": "SEV-4"},
}

AUDIENCES = (
    "owning_team",
    "team_lead",
    "incident_commander",
    "engineering_management",
    "security",
    "ciso",
    "legal",
)

_TEAM = ("owning_team",)
_LEAD = (*_TEAM, "team_lead")
_OUTAGE = (*_LEAD, "incident_commander", "engineering_management")
_BREACH = (
    "owning_team",
    "security",
    "ciso",
    "incident_commander",
    "engineering_management",
    "legal",
)


@dataclass(frozen=True)
class Rung:
    """One step of the blast-radius ladder."""

    severity: str
    page: tuple[str, ...]


BLAST_RADII = (
    "single_user",
    "single_feature",
    "single_region",
    "core_workflow",
    "all_users",
    "data_integrity",
    "security_breach",
)

# Seed 003: a single user is SEV-3/4 at low urgency; assume the worst, SEV-3.
DEFAULT_LADDER: dict[str, Rung] = {
    "single_user": Rung("SEV-3", _TEAM),
    "single_feature": Rung("SEV-3", _TEAM),
    "single_region": Rung("SEV-2", _LEAD),
    "core_workflow": Rung("SEV-2", _LEAD),
    "all_users": Rung("SEV-1", _OUTAGE),
    "data_integrity": Rung("SEV-1", _OUTAGE),
    "security_breach": Rung("SEV-1", _BREACH),
}

_BY_SEVERITY_RANK = {1: _OUTAGE, 2: _LEAD}


def label(key: str) -> str:
    """`complete_loss` -> `complete loss`."""
    return key.replace("_", " ")


@dataclass(frozen=True)
class Suggestion:
    severity: str
    page: tuple[str, ...]
    why: str


def suggest(
    *,
    impact: str | None,
    scope: str | None,
    blast_radius: str | None,
    ranks: Mapping[str, int],
    matrix: Mapping[str, Mapping[str, str]] = DEFAULT_MATRIX,
    ladder: Mapping[str, Rung] = DEFAULT_LADDER,
) -> Suggestion:
    """The severity and audiences for the answers given (impact and scope together, a
    blast radius, or all three). `ranks` maps each severity to its rank (1 = most
    severe). Raises ValueError naming the answer that is missing or unknown."""
    if (impact is None) != (scope is None):
        raise ValueError("scope" if scope is None else "impact")
    if impact is None and blast_radius is None:
        raise ValueError("impact")
    if impact is not None and impact not in IMPACTS:
        raise ValueError("impact")
    if scope is not None and scope not in SCOPES:
        raise ValueError("scope")
    if blast_radius is not None and blast_radius not in BLAST_RADII:
        raise ValueError("blast_radius")
    why: list[str] = []
    candidates: list[str] = []
    if impact is not None and scope is not None:
        sev = matrix[impact][scope]
        candidates.append(sev)
        why.append(f"{label(impact)} x {label(scope)} is {sev} (severity matrix)")
    if blast_radius is not None:
        rung = ladder[blast_radius]
        candidates.append(rung.severity)
        why.append(f"a blast radius of {label(blast_radius)} is {rung.severity}")
    severity = min(candidates, key=lambda s: (ranks.get(s, 99), s))
    if len(set(candidates)) > 1:
        why.append(f"assume the worst: {severity}, downgrade later")
    if blast_radius is not None:
        page = ladder[blast_radius].page
    else:
        page = _BY_SEVERITY_RANK.get(ranks.get(severity, 99), _TEAM)
    ordered = tuple(a for a in AUDIENCES if a in page)
    why.append("page " + ", ".join(label(a) for a in ordered))
    return Suggestion(severity, ordered, "; ".join(why))


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as the path that closes it (`[a, b, c, a]`), or None. Services
    are visited by name, so the cycle found is the same on every run."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(depends_on.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(depends_on):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def dependents(depends_on: Mapping[str, Sequence[str]], affected: Sequence[str]) -> list[str]:
    """Every service that depends, directly or through others, on an affected one (not
    the affected ones themselves), by name."""
    users: dict[str, set[str]] = {}
    for svc, deps in depends_on.items():
        for d in deps:
            users.setdefault(d, set()).add(svc)
    seen: set[str] = set()
    todo = list(affected)
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in seen:
                seen.add(user)
                todo.append(user)
    return sorted(seen - set(affected))
