"""An emulation of the `cupy.cuda.nccl` calls the multi-GPU pmap makes (`multigpu.Lockstep`),
for the host build: N "devices" in one process whose buffers are NumPy arrays, passed as raw
pointers and element counts exactly as to NCCL.

Semantics kept from NCCL (single process, several devices, `NcclCommunicator.initAll`): every
call is enqueued between `groupStart()` and `groupEnd()` (outside a group, the first rank's
call would wait forever for the others: here it fails); at `groupEnd()` the i-th collective
call of every rank is matched with the i-th of the others, and each must be the same
operation with the same count, dtype and op (else NCCL hangs or corrupts: here it fails
naming the mismatch); sends and receives pair by (sender, receiver) in order, with equal
counts and dtypes. Reductions compute in the wire dtype, in rank order."""

from __future__ import annotations

import ctypes

import numpy as np

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32 = 0, 1, 2, 3
NCCL_INT64, NCCL_UINT64, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 4, 5, 6, 7, 8
NCCL_BFLOAT16 = 9
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3

_DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32,
           NCCL_UINT32: np.uint32, NCCL_INT64: np.int64, NCCL_UINT64: np.uint64,
           NCCL_FLOAT16: np.float16, NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
_OPS = {NCCL_SUM: np.add, NCCL_PROD: np.multiply, NCCL_MAX: np.maximum, NCCL_MIN: np.minimum}

available = True
_group: list | None = None  # the calls enqueued since groupStart, or None outside a group
calls = {"groups": 0, "allReduce": 0, "allGather": 0, "send": 0, "recv": 0}  # for tests


class NcclError(RuntimeError):
    """A call NCCL would hang on or reject."""


def _dtype(code):
    if code == NCCL_BFLOAT16:
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    if code not in _DTYPES:
        raise NcclError(f"unknown NCCL dtype code {code}")
    return np.dtype(_DTYPES[code])


def _view(ptr: int, count: int, dtype) -> np.ndarray:
    """`count` elements of `dtype` at address `ptr` (a NumPy buffer of the emulated device)."""
    dtype = np.dtype(dtype)
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype, count=count)


def groupStart() -> None:  # noqa: N802 - NCCL's (and CuPy's) name
    global _group
    if _group is not None:
        raise NcclError("groupStart inside a group (this emulation does not nest groups)")
    _group = []


def groupEnd() -> None:  # noqa: N802
    global _group
    if _group is None:
        raise NcclError("groupEnd without groupStart")
    queued, _group = _group, None
    calls["groups"] += 1
    _run(queued)


class NcclCommunicator:
    """One rank of a communicator over `size` emulated devices."""

    def __init__(self, rank: int, size: int, device: int):
        self._rank, self._size, self._device = rank, size, device

    @staticmethod
    def initAll(devices):  # noqa: N802
        if isinstance(devices, int):
            devices = list(range(devices))
        if not isinstance(devices, list):
            raise ValueError('"devices" should be an int or a list of int.')
        return [NcclCommunicator(r, len(devices), d) for r, d in enumerate(devices)]

    def rank_id(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def device_id(self) -> int:
        return self._device

    def _enqueue(self, *call):
        if _group is None:
            raise NcclError(f"{call[0]} outside groupStart/groupEnd: with several devices in "
                            "one thread NCCL would wait forever for the other ranks")
        calls[call[0]] += 1
        _group.append((call[0], self, call[1:]))

    def allReduce(self, sendbuf: int, recvbuf: int, count: int, datatype: int, op: int,  # noqa: N802
                  stream: int) -> None:
        self._enqueue("allReduce", sendbuf, recvbuf, count, datatype, op)

    def allGather(self, sendbuf: int, recvbuf: int, count: int, datatype: int,  # noqa: N802
                  stream: int) -> None:
        self._enqueue("allGather", sendbuf, recvbuf, count, datatype)

    def send(self, sendbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        self._check_peer(peer)
        self._enqueue("send", sendbuf, count, datatype, peer)

    def recv(self, recvbuf: int, count: int, datatype: int, peer: int, stream: int) -> None:
        self._check_peer(peer)
        self._enqueue("recv", recvbuf, count, datatype, peer)

    def _check_peer(self, peer):
        if not 0 <= peer < self._size:
            raise NcclError(f"peer {peer} is not a rank of a communicator of size {self._size}")


def _run(queued) -> None:
    collectives: dict = {}  # rank -> its collective calls, in order
    sends: dict = {}        # (sender, receiver) -> its sends, in order
    recvs: dict = {}
    size = None
    for name, comm, args in queued:
        if size is not None and comm._size != size:
            raise NcclError("one group mixes communicators of different sizes")
        size = comm._size
        if name == "send":
            sends.setdefault((comm._rank, args[3]), []).append(args)
        elif name == "recv":
            recvs.setdefault((args[3], comm._rank), []).append(args)
        else:
            collectives.setdefault(comm._rank, []).append((name, args))
    if collectives:
        lengths = {r: len(c) for r, c in collectives.items()}
        if len(collectives) != size or len(set(lengths.values())) != 1:
            raise NcclError(f"collective calls per rank {lengths} in a group over {size} ranks: "
                            "every rank must make the same calls (NCCL would hang)")
        for i in range(next(iter(lengths.values()))):
            _collective([collectives[r][i] for r in range(size)])
    if sorted(sends) != sorted(recvs) or any(len(sends[k]) != len(recvs[k]) for k in sends):
        raise NcclError(f"unmatched send/recv pairs: sends {sorted(sends)}, receives "
                        f"{sorted(recvs)} (NCCL would hang)")
    moves = []
    for key, ss in sends.items():
        for (sbuf, count, dt, _), (rbuf, rcount, rdt, _) in zip(ss, recvs[key]):
            if (count, dt) != (rcount, rdt):
                raise NcclError(f"send {key} of {count} x dtype {dt} meets a receive of "
                                f"{rcount} x dtype {rdt}")
            moves.append((_view(sbuf, count, _dtype(dt)).copy(), rbuf, count, dt))
    for data, rbuf, count, dt in moves:  # every send reads before any receive writes
        _view(rbuf, count, _dtype(dt))[...] = data


def _collective(calls_i) -> None:
    names = {c[0] for c in calls_i}
    shapes = {c[1][2:] for c in calls_i}  # (count, dtype[, op])
    if len(names) != 1 or len(shapes) != 1:
        raise NcclError(f"mismatched collective across ranks: "
                        f"{[(c[0],) + c[1][2:] for c in calls_i]}")
    name = names.pop()
    if name == "allReduce":
        count, dt, op = calls_i[0][1][2:]
        dtype = _dtype(dt)
        if op not in _OPS:
            raise NcclError(f"unknown NCCL op {op}")
        vals = [_view(args[0], count, dtype).copy() for _, args in calls_i]
        total = vals[0]
        for v in vals[1:]:
            total = _OPS[op](total, v)
        for _, args in calls_i:
            _view(args[1], count, dtype)[...] = total
    else:  # allGather: rank r's count elements at offset r * count of every receive buffer
        count, dt = calls_i[0][1][2:]
        dtype = _dtype(dt)
        vals = [_view(args[0], count, dtype).copy() for _, args in calls_i]
        stacked = np.concatenate(vals) if vals else np.empty(0, dtype)
        for _, args in calls_i:
            _view(args[1], count * len(vals), dtype)[...] = stacked
