"""The exceptions recship raises: one class per canonical status code.

Each also derives from the built-in exception a Python caller would expect
(``InvalidArgumentError`` is a ``ValueError``, ``NotFoundError`` a
``FileNotFoundError``, ...), so ``except ValueError`` works as usual. A
Ctrl-C during an export raises ``KeyboardInterrupt`` itself.
"""


class Error(Exception):
    """Any error reported by recship's library; ``code`` names its status code."""

    code = "UNKNOWN"


class CancelledError(Error):
    code = "CANCELLED"


class UnknownError(Error):
    code = "UNKNOWN"


class InvalidArgumentError(Error, ValueError):
    code = "INVALID_ARGUMENT"


class DeadlineExceededError(Error, TimeoutError):
    code = "DEADLINE_EXCEEDED"


class NotFoundError(Error, FileNotFoundError):
    code = "NOT_FOUND"


class AlreadyExistsError(Error, FileExistsError):
    code = "ALREADY_EXISTS"


class PermissionDeniedError(Error, PermissionError):
    code = "PERMISSION_DENIED"


class ResourceExhaustedError(Error, MemoryError):
    code = "RESOURCE_EXHAUSTED"


class FailedPreconditionError(Error, RuntimeError):
    code = "FAILED_PRECONDITION"


class AbortedError(Error, RuntimeError):
    code = "ABORTED"


class OutOfRangeError(Error, IndexError):
    code = "OUT_OF_RANGE"


class UnimplementedError(Error, NotImplementedError):
    code = "UNIMPLEMENTED"


class InternalError(Error, RuntimeError):
    code = "INTERNAL"


class UnavailableError(Error, ConnectionError):
    code = "UNAVAILABLE"


class DataLossError(Error, OSError):
    code = "DATA_LOSS"


class UnauthenticatedError(Error, PermissionError):
    code = "UNAUTHENTICATED"


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def error_class(code: str) -> type[Error]:
    """The class of a status code's name ("INVALID_ARGUMENT")."""
    return _BY_CODE.get(code, UnknownError)
