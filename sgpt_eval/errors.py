"""The one exception type the command line turns into a single readable line."""


class SgptEvalError(Exception):
    """A problem the user can fix: bad input, missing data or model, unreachable network.

    The message is the whole story (what went wrong, where, what to do); the CLI prints it
    on one line and exits non-zero without a traceback.
    """


class Unavailable(SgptEvalError):
    """A dataset or model that cannot be had here (not on disk, network unreachable, not on the
    hub): a batch run with --skip-unavailable leaves its runs out instead of stopping."""
