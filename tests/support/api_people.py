"""People of the JSON API: known to the GoTrue stand-in, with a bearer token."""

from accounts.services import api_user_from_token
from tests.support.gotrue import GoTrueServer


def api_person_signed_in(supabase: GoTrueServer, email: str):
    """A person known to GoTrue, the PIPO user their token maps to, and their auth header."""
    remote = supabase.create_user(email=email, password="a-long-passphrase-42")
    token = supabase.mint_token(sub=remote["id"])
    return api_user_from_token(token=token), {"Authorization": f"Bearer {token}"}
