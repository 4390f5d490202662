"""The worker's pipe protocol: one message = a JSON header plus numpy arrays as ``.npy`` bytes.

Wire format: 4-byte big-endian header length, the UTF-8 JSON header, then for each name in
``header["arrays"]`` (with its byte length in ``header["sizes"]``) the array's ``.npy`` bytes.
Arrays are read with ``allow_pickle=False``: nothing from the other side is ever executed.
Standalone (numpy only, Python >= 3.8) so the worker in the D4RL venv can use it unchanged.
"""

import io
import json
import struct

import numpy as np

MAX_HEADER = 1 << 20


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


def encode(header, arrays=None):
    """Bytes of one message: ``header`` (JSON-serialisable dict) and named numpy arrays."""
    arrays = arrays or {}
    blobs = []
    for name in arrays:
        buf = io.BytesIO()
        np.save(buf, np.asarray(arrays[name]), allow_pickle=False)
        blobs.append(buf.getvalue())
    header = dict(header, arrays=list(arrays), sizes=[len(b) for b in blobs])
    head = json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(head)) + head + b"".join(blobs)


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
        names, sizes = header.pop("arrays"), header.pop("sizes")
    except (ValueError, KeyError, AttributeError) as err:
        raise ProtocolError(f"bad header: {err}") from None
    arrays = {}
    for name, size in zip(names, sizes, strict=True):
        arrays[name] = np.load(io.BytesIO(_read_exact(stream, int(size))), allow_pickle=False)
    return header, arrays
