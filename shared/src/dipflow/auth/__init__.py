"""Identity and access: bearer tokens, roles, areas, and the one way routes declare who may call them."""

from dipflow.auth.access import AuthContext, install_auth, requires
from dipflow.auth.principal import Principal, Role
from dipflow.auth.tokens import AuthSettings, InvalidToken, TokenVerifier, mint_token

__all__ = [
    "AuthContext",
    "AuthSettings",
    "InvalidToken",
    "Principal",
    "Role",
    "TokenVerifier",
    "install_auth",
    "mint_token",
    "requires",
]
