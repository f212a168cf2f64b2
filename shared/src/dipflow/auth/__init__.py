"""Identity: bearer tokens, roles, areas, and what test results each role may read for (T13). How routes
declare who may call them is HTTP: :mod:`dipflow.http.access`."""

from dipflow.auth.principal import Principal, Role
from dipflow.auth.tokens import AuthSettings, InvalidToken, TokenVerifier, mint_token

__all__ = ["AuthSettings", "InvalidToken", "Principal", "Role", "TokenVerifier", "mint_token"]
