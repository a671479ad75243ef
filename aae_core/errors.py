"""The one error type for problems with user input."""


class AAEError(ValueError):
    """A problem with user input (a field, a file, a value): its message is one line a person can act on."""
