"""Training checkpoints as numpy arrays, for any trainer.

A checkpoint here is TensorFlow's (``tf.train.load_checkpoint`` reads what
:class:`CheckpointWriter` writes) laid out as recship's exporters expect
(docs/DESIGN.md, contract 1): dense variables by name, each embedding table
``t`` as shards ``t/shard_<i>-keys`` (int64 [N]) and ``t/shard_<i>-values``
(float32 [N, dim]), optional ``-freqs``, ``-timestamps`` and ``-slot-<name>``,
``global_step``, and the ``checkpoint`` state file.

Arrays are not copied where their layout allows: the writer streams a
C-contiguous array straight from its buffer (anything numpy reads, through
the buffer protocol), and the reader's arrays share the bytes it read, or
with ``mmap=True`` the file's pages.
"""

import os
from typing import Dict, List, Mapping, Optional

import numpy as np

from recship import _recship
from recship.errors import NotFoundError

__all__ = ["CheckpointReader", "CheckpointWriter", "latest_checkpoint", "load_checkpoint",
           "table_shard_tensor_name"]


def latest_checkpoint(checkpoint_dir) -> Optional[str]:
    """The prefix of the newest checkpoint in ``checkpoint_dir``, or None when
    it has none (``tf.train.latest_checkpoint``)."""
    return _recship.latest_checkpoint(os.fspath(checkpoint_dir))


def table_shard_tensor_name(table: str, shard: int, part: str) -> str:
    """``<table>/shard_<shard>-<part>``: part is keys, values, freqs, timestamps or slot-<name>."""
    return f"{table}/shard_{shard}-{part}"


class CheckpointWriter:
    """Writes one checkpoint step into ``model_dir`` (``model.ckpt-<step>``).

    Use it as a context manager: leaving the block normally calls
    :meth:`finish` (which writes ``global_step`` and points the state file at
    the new step, keeping earlier steps listed); leaving it by an exception
    removes what was written. ``num_data_shards`` spreads tensors over that
    many data files (``data_shard=`` picks one).
    """

    def __init__(self, model_dir, step: int, num_data_shards: int = 1):
        os.makedirs(model_dir, exist_ok=True)
        self._writer = _recship._CheckpointWriter(os.fspath(model_dir), step, num_data_shards)
        self.prefix: Optional[str] = None

    def add_dense(self, name: str, value, data_shard: int = 0) -> None:
        """Adds a dense variable (any numeric array)."""
        self._writer.add_dense(name, value, data_shard)

    def add_table_shard(self, table: str, shard: int, keys, values, *, freqs=None,
                        timestamps=None, slots: Optional[Mapping[str, object]] = None,
                        data_shard: int = 0) -> None:
        """Adds shard ``shard`` of embedding table ``table``: int64 keys [N],
        float32 values [N, dim], and optional int64 freqs and timestamps [N]
        and float32 optimizer slots {name: [N, k]}."""
        self._writer.add_table_shard(table, shard, keys, values, freqs=freqs,
                                     timestamps=timestamps,
                                     slots=None if slots is None else dict(slots),
                                     data_shard=data_shard)

    def finish(self) -> str:
        """Completes the checkpoint; returns its prefix."""
        self.prefix = self._writer.finish()
        return self.prefix

    def close(self) -> None:
        """Abandons an unfinished checkpoint, removing its data files."""
        self._writer.close()

    def __enter__(self) -> "CheckpointWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.prefix is None:
            self.finish()
        else:
            self.close()


class CheckpointReader:
    """Reads a checkpoint: tensors by name as numpy arrays, and its tables.

    ``path`` is a checkpoint prefix or a training folder (its newest
    checkpoint). The methods named as ``tf.train.load_checkpoint``'s reader
    behave as those do.
    """

    def __init__(self, path):
        path = os.fspath(path)
        if os.path.isdir(path):
            latest = latest_checkpoint(path)
            if latest is None:
                raise NotFoundError(f"{path}: no checkpoint (no 'checkpoint' state file)")
            path = latest
        self._reader = _recship._CheckpointReader.open(path)

    @property
    def prefix(self) -> str:
        return self._reader.prefix

    @property
    def global_step(self) -> Optional[int]:
        """The checkpoint's global_step, or None."""
        return self._reader.global_step

    @property
    def tables(self) -> Dict[str, List[int]]:
        """Embedding table name -> the shard ids present."""
        return dict(self._reader.tables)

    def has_tensor(self, name: str) -> bool:
        return self._reader.has_tensor(name)

    def get_variable_to_shape_map(self) -> Dict[str, List[int]]:
        return self._reader.get_variable_to_shape_map()

    def get_variable_to_dtype_map(self) -> Dict[str, np.dtype]:
        """Tensor name -> numpy dtype (``object`` for strings)."""
        return {name: np.dtype(object if dtype == "string" else dtype)
                for name, dtype in self._reader.get_variable_to_dtype_map().items()}

    def get_tensor(self, name: str, *, mmap: bool = False) -> np.ndarray:
        """The tensor as an array, its crc32c checked. With ``mmap``, a
        read-only array over the data file's pages (for tensors too large to
        hold twice); otherwise an array over the bytes read, not copied again."""
        return self._reader.get_tensor(name, mmap)

    def table_shard(self, table: str, shard: int, *, mmap: bool = False) -> Dict[str, np.ndarray]:
        """Every tensor of one table shard by part: keys, values, freqs, ..."""
        prefix = f"{table}/shard_{shard}-"
        return {name[len(prefix):]: self.get_tensor(name, mmap=mmap)
                for name in self.get_variable_to_shape_map() if name.startswith(prefix)}


def load_checkpoint(path) -> CheckpointReader:
    """A reader of the checkpoint at ``path`` (prefix or folder), as ``tf.train.load_checkpoint``."""
    return CheckpointReader(path)
