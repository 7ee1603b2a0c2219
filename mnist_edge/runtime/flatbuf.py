"""A bounds-checked reader for the parts of the TFLite FlatBuffer schema a validator needs.

Every offset is checked against the file before it is followed, so a
corrupt or hostile file yields :class:`FlatBufferError`, never a crash or a
huge allocation. Written here rather than using the generated
``schema_py_generated`` module because tflite-runtime ships none, LiteRT's
does not bounds-check (a bad offset raises anything from ``IndexError`` to a
``struct.error``, or reads garbage), and importing it costs start-up time.

Field numbers follow TensorFlow Lite's ``schema.fbs``.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import List, Optional, Tuple

# TensorType -> (name, bytes per element); 0 bytes: not a fixed-size type.
TENSOR_TYPES = {
    0: ("float32", 4),
    1: ("float16", 2),
    2: ("int32", 4),
    3: ("uint8", 1),
    4: ("int64", 8),
    5: ("string", 0),
    6: ("bool", 1),
    7: ("int16", 2),
    8: ("complex64", 8),
    9: ("int8", 1),
    10: ("float64", 8),
    11: ("complex128", 16),
    12: ("uint64", 8),
    13: ("resource", 0),
    14: ("variant", 0),
    15: ("uint32", 4),
    16: ("uint16", 2),
    17: ("int4", 0),
    18: ("bfloat16", 2),
}
MAX_VECTOR = 1 << 24  # no vector in a model this toolkit serves is longer


class FlatBufferError(ValueError):
    """The file is not a well-formed FlatBuffer of the expected layout."""


class Reader:
    """Bounds-checked access to tables, vectors and scalars of one buffer."""

    def __init__(self, buf: bytes):
        self.buf = memoryview(buf)
        self.size = len(buf)

    def _check(self, at: int, length: int) -> None:
        if at < 0 or length < 0 or at + length > self.size:
            raise FlatBufferError(f"offset {at}+{length} outside the file ({self.size} bytes)")

    def scalar(self, fmt: str, at: int):
        """One little-endian scalar at ``at``."""
        self._check(at, struct.calcsize(fmt))
        return struct.unpack_from("<" + fmt, self.buf, at)[0]

    def table(self, at: int) -> Table:
        """The table whose start is at ``at``."""
        vtable = at - self.scalar("i", at)
        vt_size, obj_size = self.scalar("H", vtable), self.scalar("H", vtable + 2)
        if vt_size < 4 or vt_size % 2:
            raise FlatBufferError(f"bad vtable at {vtable}")
        self._check(vtable, vt_size)
        self._check(at, obj_size)
        fields = struct.unpack_from(f"<{(vt_size - 4) // 2}H", self.buf, vtable + 4)
        return Table(self, at, fields, obj_size)

    def root(self) -> Table:
        """The root table."""
        return self.table(self.scalar("I", 0))

    def indirect(self, at: int) -> int:
        """Follows the uoffset stored at ``at``."""
        return at + self.scalar("I", at)


@dataclasses.dataclass
class Table:
    """One table: its position and its fields' offsets from the vtable."""

    reader: Reader
    at: int
    fields: Tuple[int, ...]
    size: int

    def _field(self, index: int) -> Optional[int]:
        if index >= len(self.fields) or self.fields[index] == 0:
            return None
        if self.fields[index] + 1 > self.size:
            raise FlatBufferError(f"field {index} outside its table at {self.at}")
        return self.at + self.fields[index]

    def scalar(self, index: int, fmt: str, default=0):
        """A scalar field, or its default when absent."""
        pos = self._field(index)
        return default if pos is None else self.reader.scalar(fmt, pos)

    def table(self, index: int) -> Optional[Table]:
        """A sub-table field, or None."""
        pos = self._field(index)
        return None if pos is None else self.reader.table(self.reader.indirect(pos))

    def _vector(self, index: int, item: int) -> Optional[Tuple[int, int]]:
        pos = self._field(index)
        if pos is None:
            return None
        start = self.reader.indirect(pos)
        length = self.reader.scalar("I", start)
        if length > MAX_VECTOR:
            raise FlatBufferError(f"vector of {length} items at {start}")
        self.reader._check(start + 4, length * item)
        return start + 4, length

    def vector(self, index: int, fmt: str) -> List:
        """A vector of scalars (empty when absent)."""
        vec = self._vector(index, struct.calcsize(fmt))
        if vec is None:
            return []
        start, length = vec
        return list(struct.unpack_from(f"<{length}{fmt}", self.reader.buf, start))

    def tables(self, index: int) -> List[Table]:
        """A vector of tables (empty when absent)."""
        vec = self._vector(index, 4)
        if vec is None:
            return []
        start, length = vec
        return [self.reader.table(self.reader.indirect(start + 4 * k)) for k in range(length)]

    def bytes_span(self, index: int) -> Optional[Tuple[int, int]]:
        """(start, length) of a ``[ubyte]`` vector, or None."""
        return self._vector(index, 1)

    def string(self, index: int) -> Optional[str]:
        """A string field (decoded leniently), or None."""
        span = self._vector(index, 1)
        if span is None:
            return None
        start, length = span
        return bytes(self.reader.buf[start : start + length]).decode("utf-8", "replace")
