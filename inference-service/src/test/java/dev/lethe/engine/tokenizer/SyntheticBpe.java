package dev.lethe.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;

/**
 * A small byte-level BPE vocabulary learned in the test from a fixed corpus, the way GPT-2's was: the 256
 * byte symbols, then the most frequent adjacent pair merged again and again, then some special tokens.
 */
final class SyntheticBpe {
    private SyntheticBpe() {}

    static final String CORPUS = """
            Once upon a time, there was a little girl named Lily. She loved to play outside in the park.
            One day, she saw a big, red ball. She wanted to play with it, but it was too high.
            Lily's mom said, "Lily, let's go to the park." They're happy; we'll see, I'm sure it'd be fine.
            The quick brown fox jumps over the lazy dog 1234567890 times!!! 	Tabs	and  double  spaces.
            東京は日本の首都です。東京タワーは高い。 Привет, мир! Привет снова. 😀😀 🎉 café naïve résumé
            """;

    /** Control tokens (type 3) of both chat families plus EOS, and one user-defined token (type 4). */
    static final List<String> CONTROL = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");
    static final String USER_DEFINED = "<tool>";

    record Model(String[] tokens, int[] types, String[] merges) {
        int id(String token) {
            for (int i = 0; i < tokens.length; i++) if (tokens[i].equals(token)) return i;
            throw new IllegalArgumentException(token);
        }
    }

    static Model learn(PreTokenizer pre, int mergeCount) {
        List<List<String>> words = new ArrayList<>();
        Matcher m = pre.pattern().matcher(CORPUS.repeat(3));
        while (m.find()) {
            List<String> symbols = new ArrayList<>();
            for (char c : ByteLevel.encode(m.group().getBytes(StandardCharsets.UTF_8)).toCharArray()) symbols.add(String.valueOf(c));
            words.add(symbols);
        }
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(ByteLevel.charOf(b)));
        List<String> merges = new ArrayList<>();
        for (int k = 0; k < mergeCount; k++) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (List<String> w : words) {
                for (int i = 0; i + 1 < w.size(); i++) counts.merge(w.get(i) + " " + w.get(i + 1), 1, Integer::sum);
            }
            String best = null;
            for (var e : counts.entrySet()) {
                if (best == null || e.getValue() > counts.get(best) || (e.getValue().equals(counts.get(best)) && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                }
            }
            if (best == null || counts.get(best) < 2) break;
            merges.add(best);
            String left = best.substring(0, best.indexOf(' '));
            String right = best.substring(best.indexOf(' ') + 1);
            tokens.add(left + right);
            for (List<String> w : words) {
                for (int i = 0; i + 1 < w.size(); i++) {
                    if (w.get(i).equals(left) && w.get(i + 1).equals(right)) {
                        w.set(i, left + right);
                        w.remove(i + 1);
                    }
                }
            }
        }
        int normal = tokens.size();
        tokens.addAll(CONTROL);
        tokens.add(USER_DEFINED);
        int[] types = new int[tokens.size()];
        for (int i = 0; i < types.length; i++) {
            types[i] = i < normal ? 1 : i < normal + CONTROL.size() ? 3 : 4;
        }
        return new Model(tokens.toArray(String[]::new), types, merges.toArray(String[]::new));
    }

    static Gpt2Tokenizer tokenizer(Model model, PreTokenizer pre, boolean addBos) {
        Vocabulary vocab = Vocabulary.of(model.tokens(), model.types());
        SpecialTokens specials = SpecialTokens.resolve(vocab, model.id("<|begin_of_text|>"), model.id("<|endoftext|>"), addBos);
        return new Gpt2Tokenizer(vocab, model.merges(), pre, specials);
    }

    /**
     * GPT-2's reference algorithm, transcribed naively: per piece, find the pair with the lowest merge rank,
     * merge its leftmost occurrence, repeat. Used to check the priority-queue merging.
     */
    static int[] referenceEncode(Model model, PreTokenizer pre, String text) {
        Map<String, Integer> ranks = new HashMap<>();
        for (int i = 0; i < model.merges().length; i++) ranks.put(model.merges()[i], i);
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < model.tokens().length; i++) if (model.types()[i] == 1) ids.putIfAbsent(model.tokens()[i], i);
        List<Integer> out = new ArrayList<>();
        Matcher m = pre.pattern().matcher(text);
        while (m.find()) {
            String s = ByteLevel.encode(m.group().getBytes(StandardCharsets.UTF_8));
            if (pre.wholePieceFirst() && ids.containsKey(s)) {
                out.add(ids.get(s));
                continue;
            }
            List<String> symbols = new ArrayList<>();
            for (char c : s.toCharArray()) symbols.add(String.valueOf(c));
            while (true) {
                int bestRank = Integer.MAX_VALUE;
                int at = -1;
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                    if (r != null && r < bestRank) {
                        bestRank = r;
                        at = i;
                    }
                }
                if (at < 0) break;
                symbols.set(at, symbols.get(at) + symbols.get(at + 1));
                symbols.remove(at + 1);
            }
            for (String sym : symbols) out.add(ids.get(sym));
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
