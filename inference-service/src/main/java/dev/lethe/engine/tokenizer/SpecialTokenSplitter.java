package dev.lethe.engine.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Cuts text into runs of plain text and special tokens written out literally (such as {@code <|im_start|>}),
 * so that the special ones become their ids instead of being spelled out by the BPE. At each position the
 * longest special token that matches wins.
 */
final class SpecialTokenSplitter {

    sealed interface Fragment {}

    record Text(String text) implements Fragment {}

    record Special(int id) implements Fragment {}

    private record Candidate(String text, int id) {}

    /** Special tokens grouped by their first character, longest first, so a scan position checks only a few. */
    private final Map<Character, List<Candidate>> byFirstChar = new HashMap<>();

    SpecialTokenSplitter(Vocabulary vocab) {
        for (int id : vocab.specialIds()) {
            String text = vocab.token(id);
            if (text.isEmpty() || vocab.id(text) != id) continue;
            byFirstChar.computeIfAbsent(text.charAt(0), c -> new ArrayList<>()).add(new Candidate(text, id));
        }
        byFirstChar.values().forEach(list -> list.sort(Comparator.comparingInt((Candidate c) -> c.text.length()).reversed()));
    }

    /** The fragments of {@code text} in order; text fragments are never empty. */
    List<Fragment> split(String text) {
        List<Fragment> fragments = new ArrayList<>();
        int textStart = 0;
        int i = 0;
        while (i < text.length()) {
            Candidate match = matchAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            if (i > textStart) fragments.add(new Text(text.substring(textStart, i)));
            fragments.add(new Special(match.id));
            i += match.text.length();
            textStart = i;
        }
        if (textStart < text.length()) fragments.add(new Text(text.substring(textStart)));
        return fragments;
    }

    private Candidate matchAt(String text, int i) {
        List<Candidate> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (Candidate c : candidates) {
            if (text.startsWith(c.text, i)) return c;
        }
        return null;
    }
}
