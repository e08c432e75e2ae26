"""Writes a trained trace model as a GGUF v3 file that llama.cpp-style loaders read (architecture `llama`).

Tensors are F32 under llama.cpp's names; a matrix of rows x cols is stored row-major with ggml dims
[cols, rows]. q/k weights are written as trained: the model rotates adjacent pairs (2i, 2i+1) as GGUF llama
files expect, so no permutation is needed. Metadata carries the hyperparameters and the character-level
tokenizer of charvocab.py.

    python3 training/gguf_export.py WEIGHTS.npz CONFIG.json OUT.gguf
"""

import json
import struct
import sys

import numpy as np

import charvocab

ALIGNMENT = 32
GGML_F32 = 0
# GGUF metadata value types.
UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(kind, v):
    if kind == UINT32:
        return struct.pack("<I", v)
    if kind == INT32:
        return struct.pack("<i", v)
    if kind == FLOAT32:
        return struct.pack("<f", v)
    if kind == BOOL:
        return struct.pack("<B", 1 if v else 0)
    if kind == STRING:
        return _string(v)
    raise ValueError(f"unsupported metadata type {kind}")


def _kv(key, kind, value, element=None):
    out = _string(key) + struct.pack("<I", kind)
    if kind == ARRAY:
        out += struct.pack("<IQ", element, len(value)) + b"".join(_value(element, v) for v in value)
    else:
        out += _value(kind, value)
    return out


def metadata(config):
    c = config
    return [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, c["name"]),
        ("general.alignment", UINT32, ALIGNMENT),
        ("llama.context_length", UINT32, c["context"]),
        ("llama.embedding_length", UINT32, c["dim"]),
        ("llama.block_count", UINT32, c["layers"]),
        ("llama.feed_forward_length", UINT32, c["ffn"]),
        ("llama.attention.head_count", UINT32, c["heads"]),
        ("llama.attention.head_count_kv", UINT32, c["heads"]),
        ("llama.attention.layer_norm_rms_epsilon", FLOAT32, c["eps"]),
        ("llama.rope.freq_base", FLOAT32, c["rope_theta"]),
        ("llama.rope.dimension_count", UINT32, c["dim"] // c["heads"]),
        ("llama.vocab_size", UINT32, charvocab.SIZE),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, charvocab.TOKENS, STRING),
        ("tokenizer.ggml.scores", ARRAY, [0.0] * charvocab.SIZE, FLOAT32),
        ("tokenizer.ggml.token_type", ARRAY, charvocab.TYPES, INT32),
        ("tokenizer.ggml.unknown_token_id", UINT32, charvocab.UNK),
        ("tokenizer.ggml.bos_token_id", UINT32, charvocab.BOS),
        ("tokenizer.ggml.eos_token_id", UINT32, charvocab.EOS),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
        ("tokenizer.ggml.add_eos_token", BOOL, False),
        ("tokenizer.ggml.add_space_prefix", BOOL, False),
    ]


def tensor_names(layers):
    """(GGUF name, weights key) pairs in file order; the keys are those train.py saves."""
    names = [("token_embd.weight", "embed")]
    for l in range(layers):
        for gguf, key in [("attn_norm", "attn_norm"), ("attn_q", "wq"), ("attn_k", "wk"), ("attn_v", "wv"),
                          ("attn_output", "wo"), ("ffn_norm", "ffn_norm"), ("ffn_gate", "w_gate"),
                          ("ffn_up", "w_up"), ("ffn_down", "w_down")]:
            names.append((f"blk.{l}.{gguf}.weight", f"layers.{l}.{key}"))
    names += [("output_norm.weight", "norm"), ("output.weight", "output")]
    return names


def _pad(n):
    return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


def write(path, weights, config):
    """weights: name -> float32 array ([rows, cols] for matrices, [n] for norms), keys as tensor_names()."""
    tensors = [(name, np.ascontiguousarray(weights[key], dtype=np.float32)) for name, key in tensor_names(config["layers"])]
    kvs = metadata(config)
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    header += b"".join(_kv(*kv) for kv in kvs)
    offset = 0
    for name, array in tensors:
        dims = list(reversed(array.shape))  # ggml: innermost (column) dimension first
        header += _string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", GGML_F32, offset)
        offset += array.nbytes + _pad(array.nbytes)
    with open(path, "wb") as f:
        f.write(header + b"\0" * _pad(len(header)))
        for _, array in tensors:
            data = array.astype("<f4").tobytes()
            f.write(data + b"\0" * _pad(len(data)))


def read(path):
    """(metadata, tensors) of an F32 GGUF v3 file as gguf_export.write() lays it out."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        (n,) = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    sizes = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            element, n = take("<IQ")
            return [value(element) for _ in range(n)]
        return take(sizes[kind])[0]

    magic, version, n_tensors, n_kv = data[:4], *take("<4xIQQ")
    assert magic == b"GGUF" and version == 3
    meta = {}
    for _ in range(n_kv):
        key = string()
        (kind,) = take("<I")
        meta[key] = value(kind)
    infos = []
    for _ in range(n_tensors):
        name = string()
        (nd,) = take("<I")
        dims = take(f"<{nd}Q")
        kind, offset = take("<IQ")
        assert kind == 0, "F32 tensors only"
        infos.append((name, dims, offset))
    align = meta.get("general.alignment", 32)
    base = pos + (align - pos % align) % align
    tensors = {}
    for name, dims, offset in infos:
        n = int(np.prod(dims))
        tensors[name] = np.frombuffer(data, dtype="<f4", count=n, offset=base + offset).reshape(tuple(reversed(dims)))
    return meta, tensors


def weights_of(path):
    """The weights of a GGUF file written by write(), under the keys train.py saves (float32 [rows, cols])."""
    meta, tensors = read(path)
    return {key: np.array(tensors[name]) for name, key in tensor_names(meta["llama.block_count"])}


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: gguf_export.py WEIGHTS.npz CONFIG.json OUT.gguf")
    weights = dict(np.load(argv[0]))
    with open(argv[1]) as f:
        config = json.load(f)
    write(argv[2], weights, config)


if __name__ == "__main__":
    main(sys.argv[1:])
