package dev.lethe.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.stream.IntStream;

/**
 * Byte-level BPE as in GPT-2, Llama 3 and Qwen2 (GGUF {@code tokenizer.ggml.model = "gpt2"}).
 *
 * <p>Encoding: the text is cut into pieces by the model's {@link PreTokenizer}; each piece's UTF-8 bytes are
 * written in GPT-2's byte alphabet ({@link ByteLevel}) and merged pairwise, always taking the pair that
 * comes first in {@code tokenizer.ggml.merges}. Every byte is a token of its own, so any text encodes.
 * With {@code parseSpecial}, control and user-defined tokens written in the text become their ids.
 *
 * <p>Thread-safe: the piece cache is concurrent and everything else is immutable.
 */
public final class Gpt2Tokenizer extends VocabularyTokenizer {
    /** Pieces longer than this are rare repeats and would only crowd the cache. */
    private static final int MAX_CACHED_PIECE = 64;
    private static final int MAX_CACHE_ENTRIES = 1 << 16;

    private final PreTokenizer preTokenizer;
    /** Merge rank by "left right", as the merges list spells each pair. */
    private final Map<String, Integer> mergeRanks;
    /** Entries merges may produce: normal tokens only, so no merge result is read as a special token. */
    private final Map<String, Integer> pieceIds = new HashMap<>();
    private final int[] byteTokens = new int[256];
    private final SpecialTokenSplitter splitter;
    private final Map<String, int[]> pieceCache = new ConcurrentHashMap<>();

    /** @param merges the merge rules, best first, each "left right" in the byte alphabet */
    public Gpt2Tokenizer(Vocabulary vocab, String[] merges, PreTokenizer preTokenizer, SpecialTokens specials) {
        super(vocab, specials);
        this.preTokenizer = preTokenizer;
        this.mergeRanks = HashMap.newHashMap(merges.length);
        for (int rank = 0; rank < merges.length; rank++) {
            if (merges[rank].indexOf(' ') <= 0) {
                throw new IllegalArgumentException("merge rule " + rank + " in tokenizer.ggml.merges is '" + merges[rank]
                        + "', not two symbols separated by a space");
            }
            mergeRanks.putIfAbsent(merges[rank], rank);
        }
        for (int id = 0; id < vocab.size(); id++) {
            TokenType type = vocab.type(id);
            String text = vocab.token(id);
            if (type.isText()) {
                pieceIds.putIfAbsent(text, id);
                tokenBytes[id] = fromByteAlphabet(text);
            } else if (type == TokenType.CONTROL) {
                tokenBytes[id] = new byte[0];
            } else {
                // User-defined (and the rare unknown) tokens are stored as plain text, not in the byte alphabet.
                tokenBytes[id] = text.getBytes(StandardCharsets.UTF_8);
            }
        }
        for (int b = 0; b < 256; b++) {
            Integer id = pieceIds.get(String.valueOf(ByteLevel.charOf(b)));
            if (id == null) {
                throw new IllegalArgumentException(String.format("the byte-level vocabulary has no token for byte 0x%02X ('%c')",
                        b, ByteLevel.charOf(b)));
            }
            byteTokens[b] = id;
        }
        this.splitter = new SpecialTokenSplitter(vocab);
    }

    /** The bytes a token written in the byte alphabet stands for; a character outside the alphabet stands for its UTF-8. */
    private static byte[] fromByteAlphabet(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); i++) {
            int b = ByteLevel.byteOf(text.charAt(i));
            if (b >= 0) {
                out.write(b);
            } else {
                int cp = text.codePointAt(i);
                out.writeBytes(Character.toString(cp).getBytes(StandardCharsets.UTF_8));
                i += Character.charCount(cp) - 1;
            }
        }
        return out.toByteArray();
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntStream.Builder out = IntStream.builder();
        if (addBos && specials.addBos() && specials.bosId() >= 0) out.add(specials.bosId());
        List<SpecialTokenSplitter.Fragment> fragments = parseSpecial
                ? splitter.split(text)
                : List.of(new SpecialTokenSplitter.Text(text));
        for (SpecialTokenSplitter.Fragment fragment : fragments) {
            switch (fragment) {
                case SpecialTokenSplitter.Special s -> out.add(s.id());
                case SpecialTokenSplitter.Text t -> encodeText(t.text(), out);
            }
        }
        return out.build().toArray();
    }

    private void encodeText(String text, IntStream.Builder out) {
        Matcher m = preTokenizer.pattern().matcher(text);
        while (m.find()) {
            String piece = m.group();
            int[] ids = piece.length() <= MAX_CACHED_PIECE ? cachedPiece(piece) : encodePiece(piece);
            for (int id : ids) out.add(id);
        }
    }

    private int[] cachedPiece(String piece) {
        int[] ids = pieceCache.get(piece);
        if (ids == null) {
            ids = encodePiece(piece);
            // A crude bound: a long-running service sees unboundedly many distinct pieces.
            if (pieceCache.size() >= MAX_CACHE_ENTRIES) pieceCache.clear();
            pieceCache.put(piece, ids);
        }
        return ids;
    }

    private int[] encodePiece(String piece) {
        String s = ByteLevel.encode(piece.getBytes(StandardCharsets.UTF_8));
        if (preTokenizer.wholePieceFirst()) {
            Integer whole = pieceIds.get(s);
            if (whole != null) return new int[] {whole};
        }
        int[] merged = SymbolMerger.merge(SymbolMerger.codePointBounds(s), (start, mid, end) -> {
            Integer rank = mergeRanks.get(s.substring(start, mid) + ' ' + s.substring(mid, end));
            return rank == null ? Double.POSITIVE_INFINITY : rank;
        });
        IntStream.Builder ids = IntStream.builder();
        for (int i = 0; i + 1 < merged.length; i++) {
            Integer id = pieceIds.get(s.substring(merged[i], merged[i + 1]));
            if (id != null) {
                ids.add(id);
            } else {
                // A merge rule whose result is missing from the vocabulary: spell the symbol byte by byte.
                for (int j = merged[i]; j < merged[i + 1]; j++) ids.add(byteTokens[ByteLevel.byteOf(s.charAt(j))]);
            }
        }
        return ids.build().toArray();
    }
}
