"""What can go wrong signing a person in, each with a message they can act on."""


class AuthFailed(Exception):
    """The person's request was refused; `message` is safe to show on the form."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AuthServiceUnavailable(AuthFailed):
    """Supabase Auth did not answer (or answered with a server error)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("The sign-in service is unavailable. Please try again in a minute.")
        self.detail = detail


class AccessTokenInvalid(AuthFailed):
    """An access token failed local verification; `reason` says which check refused it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The access token was refused: {reason}.")
        self.reason = reason
