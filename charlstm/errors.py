"""One exception type for everything a user can get wrong.

The CLI prints these as one line and the app shows them on the page; anything that is not a
`CharlstmError` is a bug and keeps its traceback for the developer.
"""


class CharlstmError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""


class CorpusError(CharlstmError):
    """The text cannot be used for training (binary, empty, too short, undecodable)."""


class ConfigError(CharlstmError):
    """A training or generation setting is out of range."""


class BundleError(CharlstmError):
    """A model file or run directory is unreadable, unsafe or does not fit together."""
