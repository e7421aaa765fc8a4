"""Errors the CLI turns into one line and exit status 2."""


class BackproplabError(ValueError):
    """A user-facing error: bad input, an occupied output folder, missing data."""


class MissingExtraError(BackproplabError, ImportError):
    """A command needs an optional dependency that is not installed."""


def require(module: str, extra: str, what: str):
    """Import `module` or say which extra to install for `what`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{what} needs {module!r}, which is not installed: pip install 'backproplab[{extra}]'"
        ) from exc
