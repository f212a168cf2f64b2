"""What an individual's drug-test results may be read for (docs/rules.md T13), and who may read them for what.

The law allows results to be used only for bail, a conditional caution, supervision, sentence, the required
assessment, prosecutions under DA05 s.12/14 and treatment advice; never as evidence of the offence. Every read of
an individual's results names one of these purposes, and the audit keeps it. A role whose work serves none of them
(police enforcement, analysts, admins) does not see individual results.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from dipflow.auth.principal import Principal, Role
from dipflow.errors import Forbidden, InvalidInput


class Purpose(StrEnum):
    bail = "bail"
    conditional_caution = "conditional_caution"
    supervision = "supervision"
    sentence = "sentence"
    required_assessment = "required_assessment"
    prosecution = "prosecution"
    """Prosecutions under DA05 s.12 and s.14 (failing to attend or remain for a required assessment)."""
    treatment_advice = "treatment_advice"


PERMITTED: dict[Role, frozenset[Purpose]] = {
    Role.custody_officer: frozenset(
        {Purpose.bail, Purpose.conditional_caution, Purpose.required_assessment, Purpose.prosecution}
    ),
    Role.inspector: frozenset({Purpose.bail, Purpose.conditional_caution, Purpose.required_assessment}),
    Role.referral_worker: frozenset({Purpose.required_assessment, Purpose.treatment_advice}),
    Role.referral_manager: frozenset({Purpose.required_assessment, Purpose.treatment_advice}),
    Role.ppo_coordinator: frozenset({Purpose.supervision, Purpose.treatment_advice}),
    Role.probation_liaison: frozenset({Purpose.supervision, Purpose.sentence}),
    Role.court_liaison: frozenset({Purpose.bail, Purpose.sentence, Purpose.prosecution}),
    Role.police_enforcement: frozenset(),
    Role.analyst: frozenset(),
    Role.admin: frozenset(),
}


def purpose_of(principal: Principal, stated: Purpose | None, route: Iterable[Purpose]) -> Purpose | None:
    """The purpose this read of results serves: the one stated, if this role may read results for it here
    (otherwise a 403 naming T13); else the only purpose the role and the route share; else None, and the
    results are not shown."""
    allowed = PERMITTED[principal.role] & frozenset(route)
    if stated is not None:
        if stated not in allowed:
            raise Forbidden(
                f"the role {principal.role} may not read test results for {stated} here (T13); "
                f"permitted: {', '.join(sorted(allowed)) or 'none'}",
                kind="purpose-not-permitted",
                rule_id="T13",
            )
        return stated
    return next(iter(allowed)) if len(allowed) == 1 else None


def required_purpose(principal: Principal, stated: Purpose | None, route: Iterable[Purpose]) -> Purpose:
    """For reads that are nothing but results (a list of who tested positive): a purpose is needed."""
    purpose = purpose_of(principal, stated, route)
    if purpose is not None:
        return purpose
    allowed = sorted(PERMITTED[principal.role] & frozenset(route))
    if not allowed:
        raise Forbidden(
            f"the role {principal.role} does not see individual test results (T13)",
            kind="purpose-not-permitted",
            rule_id="T13",
        )
    raise InvalidInput(
        "state what the results are read for",
        field="query.purpose",
        reason=f"one of {', '.join(allowed)} (T13)",
    )
