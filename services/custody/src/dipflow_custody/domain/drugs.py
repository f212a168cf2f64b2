"""The controlled-drug vocabulary (docs/rules.md T14, CJCSA Sch 6 drug offences), pure.

A drug has a name, synonyms, its class over time and the periods in which it was a specified Class A drug for
testing under PACE s.63B. Whether a result or an offence counts is decided on the day of the sample or the
offence, never on a class a caller states.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from dipflow.errors import InvalidInput


@dataclass(frozen=True)
class Period:
    valid_from: date
    valid_to: date | None  # inclusive; None: still in force

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class ClassPeriod:
    drug_class: str
    period: Period


@dataclass(frozen=True)
class Drug:
    name: str
    synonyms: tuple[str, ...]
    classes: tuple[ClassPeriod, ...]
    specified: tuple[Period, ...]

    def class_on(self, day: date) -> str | None:
        """The drug's class under the Misuse of Drugs Act 1971 on ``day``; None if it was not controlled."""
        return next((c.drug_class for c in self.classes if c.period.covers(day)), None)

    def is_specified_class_a(self, day: date) -> bool:
        """T14: a Class A drug specified for testing under PACE s.63B on ``day``."""
        return self.class_on(day) == "A" and any(p.covers(day) for p in self.specified)


def normalise(name: str) -> str:
    return " ".join(name.strip().lower().split())


class UnknownDrug(InvalidInput):
    """A drug name the vocabulary does not know; ``known`` lists the names it does."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown drug {name!r}",
            field="body.drug",
            reason=f"known drugs: {', '.join(known)}",
            kind="unknown-drug",
            known_drugs=known,
        )
        self.name = name
        self.known = known


class DrugVocabulary:
    """Drugs by name and by synonym (case and spacing ignored)."""

    def __init__(self, drugs: Iterable[Drug]) -> None:
        self._drugs = {normalise(d.name): d for d in drugs}
        self._by_any: dict[str, Drug] = {}
        for drug in self._drugs.values():
            for name in (drug.name, *drug.synonyms):
                self._by_any[normalise(name)] = drug

    def find(self, name: str) -> Drug | None:
        return self._by_any.get(normalise(name))

    def get(self, name: str) -> Drug:
        """The drug called ``name`` (or a synonym of it); UnknownDrug otherwise."""
        drug = self.find(name)
        if drug is None:
            raise UnknownDrug(name, self.names())
        return drug

    def names(self) -> list[str]:
        return sorted(self._drugs)

    def __iter__(self) -> Iterator[Drug]:
        return iter(self._drugs.values())
