"""Exceptions that carry a message meant for the user, not a traceback."""


class DeepMFError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class DataError(DeepMFError):
    """A data file is missing, unreadable or malformed."""


class ConfigError(DeepMFError):
    """A configuration value is invalid."""


class TrainingError(DeepMFError):
    """Training cannot go on (e.g. the loss is no longer finite)."""
