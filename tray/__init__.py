"""logtray: a desktop tray app for error-spike alerts from a local log stack."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("logtray")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
