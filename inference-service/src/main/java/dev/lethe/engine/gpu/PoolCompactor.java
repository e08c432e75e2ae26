package dev.lethe.engine.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Applies pruning rounds to a paged pool on the device: the pool rows the rounds keep (keys, values and
 * scores) move to the front of their layers' blocks through a scratch area, all sources read before any
 * target is written. Passes of a bounded number of rows are safe too: a layer's moves come in increasing
 * target order and each source slot is at or after its target, so a pass only overwrites slots that no later
 * pass reads.
 */
final class PoolCompactor implements AutoCloseable {
    private final BatchKernels k;
    private final PagedKvPool pool;
    private final int chunk;
    private final DeviceBuffer index, scratch;
    private final int[] host;

    PoolCompactor(BatchKernels k, PagedKvPool pool, int chunkRows) {
        this.k = k;
        this.pool = pool;
        this.chunk = chunkRows;
        this.index = DeviceBuffer.allocate(2L * chunkRows * Integer.BYTES);
        this.scratch = DeviceBuffer.allocate((long) chunkRows * Math.max(pool.rowBytes(), Float.BYTES));
        this.host = new int[2 * chunkRows];
    }

    /** Queues the moves (chunk by chunk; each chunk's index upload waits for the work queued before it). */
    void apply(SequenceBlocks.RowMoves moves) {
        for (int start = 0; start < moves.count(); start += chunk) {
            int count = Math.min(chunk, moves.count() - start);
            for (int i = 0; i < count; i++) {
                host[i] = moves.from(start + i);
                host[count + i] = moves.to(start + i);
            }
            index.upload(host, 2 * count);
            CUdeviceptr from = index.pointer(), to = index.at(4L * count);
            for (DeviceBuffer data : new DeviceBuffer[] {pool.keys(), pool.values(), pool.scores()}) {
                if (data == null) continue;
                long rowBytes = data == pool.scores() ? Float.BYTES : pool.rowBytes();
                k.moveRows(data.pointer(), scratch.pointer(), from, null, count, rowBytes);
                k.moveRows(scratch.pointer(), data.pointer(), null, to, count, rowBytes);
            }
        }
    }

    @Override
    public void close() {
        index.close();
        scratch.close();
    }
}
