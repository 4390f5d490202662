"""The worker's pipe protocol: one message = a JSON header plus raw numpy array bytes.

Wire format: 4-byte big-endian header length, the UTF-8 JSON header, then for each name in
``header["arrays"]`` the array's C-order bytes; ``header["dtypes"]`` and ``header["shapes"]``
describe them. Only plain numeric dtypes (:data:`DTYPES`) are accepted, and arrays are rebuilt
with ``np.frombuffer``: nothing from the other side is ever unpickled or executed.
Standalone (numpy only, Python >= 3.8) so the worker in the D4RL venv can use it unchanged.
"""

import json
import struct

import numpy as np

MAX_HEADER = 1 << 20
MAX_ARRAY = 1 << 30


class ProtocolError(Exception):
    """The other side closed the pipe or sent something that is not a message."""


def _read_exact(stream, n):
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise ProtocolError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "|b1"})


def encode(header, arrays=None):
    """Bytes of one message: ``header`` (JSON-serialisable dict) and named numpy arrays."""
    arrays = {k: np.ascontiguousarray(v) for k, v in (arrays or {}).items()}
    for name, a in arrays.items():
        if a.dtype.str not in DTYPES:
            raise ProtocolError(f"array {name!r}: dtype {a.dtype.str} not allowed")
    header = dict(
        header,
        arrays=list(arrays),
        dtypes=[a.dtype.str for a in arrays.values()],
        shapes=[list(a.shape) for a in arrays.values()],
    )
    head = json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(head)) + head + b"".join(a.tobytes() for a in arrays.values())


def write(stream, header, arrays=None):
    stream.write(encode(header, arrays))
    stream.flush()


def read(stream):
    """One message from ``stream``: (header dict, {name: array})."""
    (n,) = struct.unpack(">I", _read_exact(stream, 4))
    if n > MAX_HEADER:
        raise ProtocolError(f"header of {n} bytes")
    try:
        header = json.loads(_read_exact(stream, n).decode("utf-8"))
        names, dtypes = header.pop("arrays"), header.pop("dtypes")
        shapes = [tuple(int(d) for d in s) for s in header.pop("shapes")]
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise ProtocolError(f"bad header: {err}") from None
    arrays = {}
    for name, dtype, shape in zip(names, dtypes, shapes, strict=True):
        if dtype not in DTYPES or any(d < 0 for d in shape):
            raise ProtocolError(f"array {name!r}: dtype {dtype} / shape {shape} not allowed")
        dt = np.dtype(dtype)
        size = dt.itemsize * int(np.prod(shape, dtype=np.int64))
        if size > MAX_ARRAY:
            raise ProtocolError(f"array {name!r} of {size} bytes")
        arrays[name] = np.frombuffer(_read_exact(stream, size), dtype=dt).reshape(shape).copy()
    return header, arrays
