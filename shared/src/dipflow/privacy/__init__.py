"""Personal data kept where it belongs: pseudonyms, erasure by person id across the services (through
``privacy.requests.v1``), and the retention job that pseudonymises old records while keeping the counts the
measures need."""

from dipflow.privacy.erasure import PersonEraser, erase_platform_rows, erasure_consumer
from dipflow.privacy.events import PRIVACY_EVENTS, ErasureCompleted, ErasureRequested
from dipflow.privacy.pseudonyms import Pseudonyms, pseudonymise_rows
from dipflow.privacy.retention import Retainer, RetentionLoop, RetentionPolicy, run_retention

__all__ = [
    "PRIVACY_EVENTS",
    "ErasureCompleted",
    "ErasureRequested",
    "PersonEraser",
    "Pseudonyms",
    "Retainer",
    "RetentionLoop",
    "RetentionPolicy",
    "erase_platform_rows",
    "erasure_consumer",
    "pseudonymise_rows",
    "run_retention",
]
