package dev.lethe.engine.tokenizer;

import java.util.PriorityQueue;

/**
 * The merge loop both BPE flavours share: symbols are adjacent spans of a string, and the adjacent pair with
 * the lowest cost is merged until no pair can be. Ties go to the leftmost pair, which is what a left-to-right
 * scan for the best pair (llama2.c, SentencePiece, GPT-2's reference code) picks.
 *
 * <p>A priority queue of candidate pairs keeps this O(n log n) in the length of the text, so one long
 * piece (a run of thousands of characters without spaces) does not make encoding quadratic. Entries that
 * a merge has made stale stay in the queue and are skipped when they come out.
 */
final class SymbolMerger {

    /** The cost of merging the spans [start, mid) and [mid, end); {@link Double#POSITIVE_INFINITY} when they cannot merge. */
    @FunctionalInterface
    interface PairCost {
        double cost(int start, int mid, int end);
    }

    private record Candidate(int left, int right, int end, double cost) implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate o) {
            int c = Double.compare(cost, o.cost);
            return c != 0 ? c : Integer.compare(left, o.left);
        }
    }

    private SymbolMerger() {}

    /**
     * Merges the initial symbols given by {@code bounds} (symbol i spans [bounds[i], bounds[i+1])) and
     * returns the bounds of the final symbols in the same form.
     */
    static int[] merge(int[] bounds, PairCost costs) {
        int n = bounds.length - 1;
        if (n <= 1) return bounds;
        // Symbol i keeps its start (bounds[i]) for life; merging absorbs the right neighbour into the left one.
        int[] end = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            end[i] = bounds[i + 1];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) offer(queue, costs, bounds, end, i, i + 1);
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            // Stale when either side was merged into something else since the candidate was made.
            if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || end[c.right] != c.end) continue;
            end[c.left] = c.end;
            alive[c.right] = false;
            next[c.left] = next[c.right];
            if (next[c.left] >= 0) prev[next[c.left]] = c.left;
            if (prev[c.left] >= 0) offer(queue, costs, bounds, end, prev[c.left], c.left);
            if (next[c.left] >= 0) offer(queue, costs, bounds, end, c.left, next[c.left]);
        }
        int count = 0;
        for (int i = 0; i >= 0; i = next[i]) count++;
        int[] result = new int[count + 1];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) result[k++] = bounds[i];
        result[count] = bounds[n];
        return result;
    }

    /** Bounds that make each code point of {@code s} one symbol. */
    static int[] codePointBounds(String s) {
        int[] bounds = new int[s.codePointCount(0, s.length()) + 1];
        int k = 0;
        for (int i = 0; i < s.length(); i += Character.charCount(s.codePointAt(i))) bounds[k++] = i;
        bounds[k] = s.length();
        return bounds;
    }

    private static void offer(PriorityQueue<Candidate> queue, PairCost costs, int[] start, int[] end, int left, int right) {
        double cost = costs.cost(start[left], start[right], end[right]);
        if (cost != Double.POSITIVE_INFINITY) queue.add(new Candidate(left, right, end[right], cost));
    }
}
