"""Typed errors. Library code raises these; only the doors turn them into exit codes, HTTP
statuses or page messages. Every message names the problem and the fix."""

from __future__ import annotations


class KhulasaError(Exception):
    """Base class: `code` is a stable machine-readable name (used in batch error records)."""

    code = "error"


class Busy(KhulasaError):
    """Every model slot is taken and the waiting line is full (the server's gate, or the Ray
    Serve deployments' line)."""

    code = "busy"


class ModelNotFound(KhulasaError):
    """A model's weights are not on this machine (or the path given is not a model)."""

    code = "model_not_found"


class ModelLoadError(KhulasaError):
    """The files are there but do not load as the kind of model asked for."""

    code = "model_load_error"


class InputError(KhulasaError):
    """The user's text cannot be processed as given."""

    def __init__(self, message: str, code: str = "invalid_input"):
        super().__init__(message)
        self.code = code


class OptionError(InputError):
    """An option's value is wrong (a usage error: the CLI exits 2)."""

    def __init__(self, message: str, code: str = "bad_option"):
        super().__init__(message, code)


class DeviceError(KhulasaError):
    """The device asked for cannot be used on this machine."""

    code = "device_unavailable"
