"""The character-level vocabulary of the trace model, as a GGUF `llama` (SentencePiece-style) tokenizer.

Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then one token per printable ASCII
character, space spelled "\u2581" as SentencePiece does. The vocabulary holds no piece longer than one
character, so the engine's merges never fire and every printable character is its own token; any other
character (newline included) falls back to its UTF-8 bytes. With tokenizer.ggml.add_space_prefix = false
no space is put in front of the text. encode() below is that rule, and must give the ids the engine's
tokenizer gives (checked against the Java tokenizer on the held-out problems).
"""

UNK, BOS, EOS = 0, 1, 2
BYTE_BASE = 3
SPACE_MARKER = "\u2581"
PRINTABLE = [SPACE_MARKER] + [chr(c) for c in range(0x21, 0x7F)]
TEXT_BASE = BYTE_BASE + 256

# GGUF token types (llama.cpp's llama_token_type): 1 normal, 2 unknown, 3 control, 6 byte.
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

TOKENS = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + PRINTABLE
TYPES = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 256 + [NORMAL] * len(PRINTABLE)
SIZE = len(TOKENS)

_TEXT_IDS = {ch: TEXT_BASE + i for i, ch in enumerate(PRINTABLE)}


def encode(text, bos=True):
    """Token ids of text: BOS first when asked, then one id per character (bytes for the unprintable)."""
    ids = [BOS] if bos else []
    for ch in text:
        key = SPACE_MARKER if ch == " " else ch
        tid = _TEXT_IDS.get(key)
        if tid is not None:
            ids.append(tid)
        else:
            ids.extend(BYTE_BASE + b for b in ch.encode("utf-8"))
    return ids


def byte_table():
    """For ASCII text: the id of each byte value (index = byte), to encode bytes without a Python loop."""
    return [encode(chr(b), bos=False)[0] if b < 0x80 else BYTE_BASE + b for b in range(256)]


def decode(ids):
    out = bytearray()
    for t in ids:
        if BYTE_BASE <= t < TEXT_BASE:
            out.append(t - BYTE_BASE)
        elif t >= TEXT_BASE:
            out.extend(TOKENS[t].replace(SPACE_MARKER, " ").encode("utf-8"))
    return out.decode("utf-8", errors="replace")
