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
    """The operation was cancelled."""

    code = "CANCELLED"


class UnknownError(Error):
    """An error of no other class."""

    code = "UNKNOWN"


class InvalidArgumentError(Error, ValueError):
    """A bad argument, input, file or spec; the message names it."""

    code = "INVALID_ARGUMENT"


class DeadlineExceededError(Error, TimeoutError):
    """The deadline passed before the operation ended."""

    code = "DEADLINE_EXCEEDED"


class NotFoundError(Error, FileNotFoundError):
    """A file, tensor, model or version that does not exist."""

    code = "NOT_FOUND"


class AlreadyExistsError(Error, FileExistsError):
    """Something to be created exists already (an export version, say)."""

    code = "ALREADY_EXISTS"


class PermissionDeniedError(Error, PermissionError):
    """The operation is not permitted."""

    code = "PERMISSION_DENIED"


class ResourceExhaustedError(Error, MemoryError):
    """A memory budget or size limit was exceeded."""

    code = "RESOURCE_EXHAUSTED"


class FailedPreconditionError(Error, RuntimeError):
    """The system is not in a state the operation needs."""

    code = "FAILED_PRECONDITION"


class AbortedError(Error, RuntimeError):
    """The operation was aborted."""

    code = "ABORTED"


class OutOfRangeError(Error, IndexError):
    """A value lies outside its valid range."""

    code = "OUT_OF_RANGE"


class UnimplementedError(Error, NotImplementedError):
    """Not supported by recship."""

    code = "UNIMPLEMENTED"


class InternalError(Error, RuntimeError):
    """A broken invariant inside recship."""

    code = "INTERNAL"


class UnavailableError(Error, ConnectionError):
    """A server could not be reached."""

    code = "UNAVAILABLE"


class DataLossError(Error, OSError):
    """A file is damaged or truncated."""

    code = "DATA_LOSS"


class UnauthenticatedError(Error, PermissionError):
    """The caller is not authenticated."""

    code = "UNAUTHENTICATED"


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def error_class(code: str) -> type[Error]:
    """The class of a status code's name ("INVALID_ARGUMENT")."""
    return _BY_CODE.get(code, UnknownError)
