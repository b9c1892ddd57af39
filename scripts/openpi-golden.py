"""Golden bytes of openpi's wire format (msgpack + NumPy), printed as hex for src/serve/protocol.test.ts.

Packs with Python's msgpack and the same array hook as openpi_client.msgpack_numpy, so the test checks
vlm2vla's encoder and decoder against bytes laid out exactly as openpi writes them. Run once with
`python3 scripts/openpi-golden.py` (needs python3-msgpack and python3-numpy); the test does not need
Python. Format version 1: one `name hex` line per case.
"""

import functools

import msgpack
import numpy as np


def pack_array(obj):
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind in ("V", "O", "c"):
        raise ValueError(f"Unsupported dtype: {obj.dtype}")
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def unpack_array(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


packb = functools.partial(msgpack.packb, default=pack_array)
unpackb = functools.partial(msgpack.unpackb, object_hook=unpack_array)

CASES = {
    # A small observation: fixmap, fixstr keys, bin8 data, fixarray shape.
    "observation": {
        "observation/image": np.arange(12, dtype=np.uint8).reshape(2, 2, 3),
        "observation/state": np.array([0.25, -0.5, 0.125, 0, 0, 1.5, 1], dtype=np.float32),
        "prompt": "pick up the carrot",
    },
    # A 10×10 frame (300 bytes: bin16), a prompt of 40 bytes (str8), a wrist camera.
    "observation_bin16": {
        "observation/image": (np.arange(300) % 251).astype(np.uint8).reshape(10, 10, 3),
        "observation/wrist_image": np.full((1, 1, 3), 7, dtype=np.uint8),
        "observation/state": np.zeros(7, dtype=np.float64),
        "prompt": "put the carrot in the pot, then stop now",
    },
    # Sixteen keys: map16.
    "map16": {f"k{i:02d}": i for i in range(16)},
    # NumPy scalars.
    "scalars": {"f": np.float32(1.5), "i": np.int64(-3), "b": np.bool_(True), "u": np.uint8(200), "d": np.float64(2.0)},
    # A result as a policy server writes it (Python floats are float64).
    "result": {
        "actions": np.array([[0.01, 0, -0.02, 0, 0, 0.1, 1], [0, 0, 0, 0, 0, 0, 0]], dtype=np.float32),
        "text": {"subtasks": ["pick up the carrot"], "chunk": "[[1.0, 0.0, -2.0, 1]]"},
        "done": False,
        "policy_timing": {"chunk": 3.0},
        "server_timing": {"infer_ms": 12.0, "prev_total_ms": 20.5},
    },
}

# Every dtype the protocol carries, little endian as NumPy writes them, plus big-endian ones.
VALUES = [0, 1, 2, 100]
for dt in ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", ">i4", ">f8", ">u2"]:
    CASES[f"dtype_{np.dtype(dt).str}"] = {"a": np.array(VALUES, dtype=dt).reshape(2, 2)}
CASES["dtype_neg"] = {"i": np.array([-1, -128], dtype=np.int8), "f": np.array([-0.0, np.inf, -np.inf], dtype=np.float32), "h": np.array([0.5, -2.0, 65504.0], dtype=np.float16)}

if __name__ == "__main__":
    for name, value in CASES.items():
        print(name, packb(value).hex())
    # bin32: only the header before the 65536 bytes of data (the payload is bytes(range(256)) * 256).
    big = packb({"a": np.frombuffer(bytes(range(256)) * 256, dtype=np.uint8)})
    print("bin32_prefix", big[: big.index(b"\xc6") + 5].hex(), "suffix", big[big.index(b"\xc6") + 5 + 65536 :].hex())
