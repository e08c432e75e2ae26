package dev.lethe.engine.generate;

import java.util.List;

/**
 * Finds stop sequences in streamed text. Text that might be the beginning of a stop sequence is held back
 * until it is known not to be, so a client never sees part of a stop sequence.
 */
final class StopSequenceMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopSequenceMatcher(List<String> stops) {
        this.stops = stops;
    }

    /** Takes new text, returns the part that is safe to emit now (everything before a stop, if one completed). */
    String accept(String delta) {
        if (stopped) return "";
        held.append(delta);
        int earliest = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (earliest < 0 || at < earliest)) earliest = at;
        }
        if (earliest >= 0) {
            stopped = true;
            String out = held.substring(0, earliest);
            held.setLength(0);
            return out;
        }
        int keep = 0; // longest suffix of held that is a proper prefix of some stop sequence
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, held.length()); len > keep; len--) {
                if (held.substring(held.length() - len).equals(s.substring(0, len))) {
                    keep = len;
                    break;
                }
            }
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    boolean stopped() {
        return stopped;
    }

    /** At the end of a generation that did not stop on a sequence: what was held back. */
    String flush() {
        String out = held.toString();
        held.setLength(0);
        return out;
    }
}
