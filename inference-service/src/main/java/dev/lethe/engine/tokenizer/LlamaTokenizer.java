package dev.lethe.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The SentencePiece-style BPE of Llama 1/2 and llama2.c models (GGUF {@code tokenizer.ggml.model = "llama"}).
 *
 * <p>Encoding: spaces become "▁" (U+2581), a space is put in front of the text (the "dummy prefix",
 * {@code tokenizer.ggml.add_space_prefix}, on by default), the text is split into characters, and the
 * adjacent pair whose concatenation is a vocabulary entry with the highest score is merged, again and again.
 * A character that ends up in no vocabulary entry is spelled as its UTF-8 bytes with the {@code <0xNN>}
 * byte-fallback tokens. This reproduces llama2.c's {@code run.c} encoder id for id.
 *
 * <p>With {@code parseSpecial}, special tokens written in the text become their ids and, as in llama.cpp,
 * the text after each of them gets its own dummy prefix.
 *
 * <p>Decoding: "▁" is a space, {@code <0xNN>} is that byte, control tokens are empty, the unknown token is
 * U+FFFD; {@link #decode} drops the dummy-prefix space again (see {@link Detokenizer}).
 */
public final class LlamaTokenizer extends VocabularyTokenizer {
    private static final char SPACE_MARKER = '\u2581';
    private static final byte[] REPLACEMENT_UTF8 = "\uFFFD".getBytes(StandardCharsets.UTF_8);

    private final float[] scores;
    private final boolean addSpacePrefix;
    /** Entries the merges may produce: text pieces only, so no merge ever spells out a control or byte token. */
    private final Map<String, Integer> pieceIds = new HashMap<>();
    /** The token for each byte of a character outside the vocabulary: its {@code <0xNN>} token, else the unknown token. */
    private final int[] byteFallback = new int[256];
    private final SpecialTokenSplitter splitter;

    /**
     * @param scores         merge priorities, one per token (higher merges first)
     * @param addSpacePrefix whether to put a space in front of the text, as SentencePiece models expect
     * @param unknownId      the unknown token, used for bytes without a {@code <0xNN>} token; -1 if none
     */
    public LlamaTokenizer(Vocabulary vocab, float[] scores, SpecialTokens specials, boolean addSpacePrefix, int unknownId) {
        if (scores.length != vocab.size()) {
            throw new IllegalArgumentException("tokenizer.ggml.scores has " + scores.length
                    + " entries but the vocabulary has " + vocab.size() + " tokens");
        }
        if (unknownId < -1 || unknownId >= vocab.size()) {
            throw new IllegalArgumentException("tokenizer.ggml.unknown_token_id is " + Integer.toUnsignedString(unknownId)
                    + ", outside the vocabulary of " + vocab.size() + " tokens");
        }
        super(vocab, specials);
        this.scores = scores.clone();
        this.addSpacePrefix = addSpacePrefix;
        Arrays.fill(byteFallback, unknownId);
        for (int id = 0; id < vocab.size(); id++) {
            TokenType type = vocab.type(id);
            String text = vocab.token(id);
            if (type.isText() || type == TokenType.USER_DEFINED) {
                if (type.isText()) pieceIds.putIfAbsent(text, id);
                tokenBytes[id] = text.replace(SPACE_MARKER, ' ').getBytes(StandardCharsets.UTF_8);
            } else if (type == TokenType.BYTE) {
                int b = parseByteToken(text, id);
                byteFallback[b] = id;
                tokenBytes[id] = new byte[] {(byte) b};
            } else if (type == TokenType.UNKNOWN) {
                tokenBytes[id] = REPLACEMENT_UTF8;
            } else {
                tokenBytes[id] = new byte[0];
            }
        }
        for (int b = 0; b < 256; b++) {
            if (byteFallback[b] < 0) {
                throw new IllegalArgumentException(String.format(
                        "the vocabulary has no byte-fallback token <0x%02X> and no unknown token to stand in for it", b));
            }
        }
        this.splitter = new SpecialTokenSplitter(vocab);
    }

    private static int parseByteToken(String text, int id) {
        if (text.length() == 6 && text.startsWith("<0x") && text.endsWith(">")) {
            try {
                return Integer.parseInt(text.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new IllegalArgumentException("token " + id + " has type BYTE but its text '" + text + "' is not of the form <0xNN>");
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntStream.Builder out = IntStream.builder();
        if (addBos && specials.addBos() && specials.bosId() >= 0) out.add(specials.bosId());
        List<SpecialTokenSplitter.Fragment> fragments = parseSpecial
                ? splitter.split(text)
                : text.isEmpty() ? List.of() : List.of(new SpecialTokenSplitter.Text(text));
        boolean startsRun = true; // at the start of the input or right after a special token
        for (SpecialTokenSplitter.Fragment fragment : fragments) {
            switch (fragment) {
                case SpecialTokenSplitter.Special s -> {
                    out.add(s.id());
                    startsRun = true;
                }
                case SpecialTokenSplitter.Text t -> {
                    encodeText(addSpacePrefix && startsRun ? " " + t.text() : t.text(), out);
                    startsRun = false;
                }
            }
        }
        return out.build().toArray();
    }

    private void encodeText(String text, IntStream.Builder out) {
        String s = text.replace(' ', SPACE_MARKER);
        int[] merged = SymbolMerger.merge(SymbolMerger.codePointBounds(s), (start, mid, end) -> {
            Integer id = pieceIds.get(s.substring(start, end));
            return id == null ? Double.POSITIVE_INFINITY : -scores[id];
        });
        for (int i = 0; i + 1 < merged.length; i++) {
            String piece = s.substring(merged[i], merged[i + 1]);
            Integer id = pieceIds.get(piece);
            if (id != null) {
                out.add(id);
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) out.add(byteFallback[b & 0xFF]);
            }
        }
    }

    @Override
    public boolean addsSpacePrefix() {
        return addSpacePrefix;
    }
}
