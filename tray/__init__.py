"""logtray: a desktop tray app for error-spike alerts from a local log stack."""


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed package's metadata when first asked for: the
    tray does not pay for importlib.metadata (email, zipfile, csv: ~2 MB resident) at start."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("logtray")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
