package dev.lethe.engine.gpu;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Continuous batching over a paged KV pool (host side): sequences join at any step when the pool's free
 * blocks admit them and leave as soon as they finish, so the batch changes every step.
 *
 * <p>Admission: where the policy predicts a sequence's peak length (full cache, fixed ratio), a sequence is
 * admitted when the free blocks, less what the running sequences may still grow into, cover its peak: it can
 * never run dry. Otherwise (Lethe) it is admitted when the free blocks cover its prompt plus a watermark of
 * one block per layer for every running sequence; if the pool still runs dry, the most recently admitted
 * sequence is preempted (its blocks returned, the sequence queued first to start over). Blocks that running
 * sequences are promised (peaks, or prompts still being fed) count as taken.
 */
final class BatchScheduler {
    private final BlockAllocator pool;
    private final int layers, blockSize, maxBlocks, maxBatch;
    private final BatchPolicy policy;
    private final Deque<BatchSequence> waiting = new ArrayDeque<>();
    private final List<BatchSequence> running = new ArrayList<>();
    private final List<BatchSequence> finished = new ArrayList<>();
    /** Sequences a {@link #stop} left unfinished. */
    private final List<BatchSequence> stopped = new ArrayList<>();
    private final Deque<Integer> freeSlots = new ArrayDeque<>();
    private long steps, preemptions;

    BatchScheduler(BlockAllocator pool, int layers, int blockSize, int maxBlocks, int maxBatch, BatchPolicy policy) {
        this.pool = pool;
        this.layers = layers;
        this.blockSize = blockSize;
        this.maxBlocks = maxBlocks;
        this.maxBatch = maxBatch;
        this.policy = policy;
        for (int s = 0; s < maxBatch; s++) freeSlots.add(s);
    }

    void submit(BatchSequence s) {
        int peak = s.promptLength() + s.maxNewTokens() - 1;
        if ((peak + blockSize - 1) / blockSize > maxBlocks) {
            throw new IllegalArgumentException("sequence " + s.id() + " may reach " + peak + " tokens, more than the block table's "
                    + maxBlocks * blockSize);
        }
        if ((long) blocksFor(s.promptLength()) > pool.capacity()) {
            throw new IllegalArgumentException("sequence " + s.id() + ": its prompt alone needs more than the pool's " + pool.capacity() + " blocks");
        }
        waiting.add(s);
    }

    boolean idle() {
        return waiting.isEmpty() && running.isEmpty();
    }

    List<BatchSequence> running() {
        return running;
    }

    List<BatchSequence> finished() {
        return finished;
    }

    int waiting() {
        return waiting.size();
    }

    long preemptions() {
        return preemptions;
    }

    long steps() {
        return steps;
    }

    private int blocksFor(int tokens) {
        return layers * ((tokens + blockSize - 1) / blockSize);
    }

    private int peakBlocks(BatchSequence s) {
        return blocksFor(policy.peakLength().of(s.promptLength(), s.maxNewTokens()));
    }

    /** Admits waiting sequences, first come first served, while the pool admits them; returns how many. */
    int admit() {
        int admitted = 0;
        while (!waiting.isEmpty() && running.size() < maxBatch) {
            BatchSequence s = waiting.peek();
            boolean fits;
            if (policy.peakLength() != null) {
                long reserved = 0;
                for (BatchSequence r : running) reserved += Math.max(0, peakBlocks(r) - r.blocks.heldBlocks());
                fits = pool.free() - reserved >= peakBlocks(s);
            } else {
                long promised = 0; // prompt blocks the running sequences have yet to take
                for (BatchSequence r : running) promised += Math.max(0, blocksFor(r.promptLength()) - blocksFor(r.fed));
                fits = pool.free() - promised >= blocksFor(s.promptLength()) + (long) layers * running.size();
            }
            if (!fits) break;
            waiting.poll();
            s.slot = freeSlots.poll();
            s.blocks = new SequenceBlocks(layers, blockSize, maxBlocks);
            s.selector = policy.prunes() ? policy.selectors().get() : null;
            running.add(s);
            admitted++;
        }
        return admitted;
    }

    /**
     * Appends this step's position to every running sequence, taking blocks from the pool; while the pool
     * cannot cover the appends, preempts the most recently admitted sequence. Each block-table entry that
     * changes goes to {@code table} as (index into the [slot][layer][maxBlocks] table, block id).
     */
    List<BatchSequence> prepareStep(TableSink table) {
        while (true) {
            long needed = 0;
            for (BatchSequence s : running) needed += s.blocks.blocksForNextAppend();
            if (needed <= pool.free()) break;
            if (running.size() == 1) {
                throw new IllegalStateException("sequence " + running.getFirst().id() + " alone outgrows the KV pool of "
                        + pool.capacity() + " blocks");
            }
            preempt(running.getLast());
        }
        for (BatchSequence s : running) {
            int slot = s.slot;
            s.blocks.append(s.fed, pool, (layer, index, block) -> table.set(((slot * layers) + layer) * maxBlocks + index, block));
        }
        return running;
    }

    private void preempt(BatchSequence s) {
        running.remove(s);
        s.blocks.releaseAll(pool);
        freeSlots.addFirst(s.slot);
        s.restart();
        waiting.addFirst(s);
        preemptions++;
    }

    /** The step ran: each sequence advances with its chosen token (ignored unless recorded). */
    void advance(int[] chosen) {
        for (int b = 0; b < running.size(); b++) running.get(b).advance(chosen == null ? -1 : chosen[b]);
        steps++;
    }

    /** Sequences that finished leave the batch and return their blocks and slots. */
    int retireFinished() {
        int n = 0;
        for (var it = running.iterator(); it.hasNext(); ) {
            BatchSequence s = it.next();
            if (!s.finished()) continue;
            it.remove();
            s.blocks.releaseAll(pool);
            freeSlots.add(s.slot);
            finished.add(s);
            n++;
        }
        return n;
    }

    /**
     * Ends the run early (a time-limited benchmark): running sequences return their blocks and slots, waiting ones
     * are dropped; both keep what they generated and are listed by {@link #stopped}. The scheduler is then idle.
     */
    void stop() {
        for (BatchSequence s : running) {
            s.blocks.releaseAll(pool);
            freeSlots.add(s.slot);
        }
        stopped.addAll(running);
        stopped.addAll(waiting);
        running.clear();
        waiting.clear();
    }

    List<BatchSequence> stopped() {
        return stopped;
    }

    interface TableSink {
        void set(int index, int block);
    }
}
