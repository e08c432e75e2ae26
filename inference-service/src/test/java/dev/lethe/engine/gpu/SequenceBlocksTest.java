package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The host side of the paged KV pool: block allocation on append, compaction, blocks going back to the pool. */
class SequenceBlocksTest {
    private final Random random = new Random();

    @Test
    void appendsTakeABlockPerLayerEachTimeABlockFills() {
        BlockAllocator pool = new BlockAllocator(100);
        SequenceBlocks s = new SequenceBlocks(3, 4, 10);
        List<int[]> changes = new ArrayList<>();
        for (int p = 0; p < 9; p++) {
            assertEquals(p % 4 == 0 ? 3 : 0, s.blocksForNextAppend(), "before position " + p);
            s.append(p, pool, (layer, index, block) -> changes.add(new int[] {layer, index, block}));
        }
        assertEquals(9, s.heldBlocks());
        assertEquals(91, pool.free());
        assertEquals(9, changes.size());
        Set<Integer> distinct = new HashSet<>();
        for (int[] c : changes) {
            assertEquals(c[2], s.block(c[0], c[1]));
            distinct.add(c[2]);
        }
        assertEquals(9, distinct.size(), "no block is handed out twice");
        for (int l = 0; l < 3; l++) {
            assertEquals(9, s.length(l));
            for (int slot = 0; slot < 9; slot++) {
                assertEquals(slot, s.position(l, slot));
                assertEquals(s.block(l, slot / 4) * 4 + slot % 4, s.row(l, slot));
            }
        }
    }

    @Test
    void compactionMovesKeptSlotsToTheFrontAndReturnsEmptiedBlocks() {
        BlockAllocator pool = new BlockAllocator(64);
        SequenceBlocks s = new SequenceBlocks(2, 4, 16);
        for (int p = 0; p < 30; p++) s.append(p, pool, (l, i, b) -> { });
        assertEquals(16, s.heldBlocks());
        int[] keep = random.ints(0, 30).distinct().limit(9).sorted().toArray();
        int[] rowsBefore = new int[30];
        for (int slot = 0; slot < 30; slot++) rowsBefore[slot] = s.row(1, slot);
        SequenceBlocks.RowMoves moves = new SequenceBlocks.RowMoves();
        s.compact(1, keep, moves, pool);
        assertEquals(9, s.length(1));
        assertEquals(30, s.length(0), "the other layer is untouched");
        assertEquals(8 + 3, s.heldBlocks(), "layer 1 keeps ceil(9/4) = 3 blocks");
        assertEquals(64 - 11, pool.free());
        int m = 0;
        for (int i = 0; i < keep.length; i++) {
            assertEquals(keep[i], s.position(1, i));
            if (keep[i] == i) continue;
            assertEquals(rowsBefore[keep[i]], moves.from(m));
            assertEquals(s.row(1, i), moves.to(m));
            assertEquals(rowsBefore[i], moves.to(m), "targets stay in the layer's first blocks");
            m++;
        }
        assertEquals(m, moves.count());
        s.releaseAll(pool);
        assertEquals(64, pool.free());
        assertEquals(0, s.heldBlocks());
    }

    @Test
    void badKeepListsAndExhaustionAreRefused() {
        BlockAllocator pool = new BlockAllocator(2);
        SequenceBlocks s = new SequenceBlocks(1, 2, 8);
        for (int p = 0; p < 4; p++) s.append(p, pool, (l, i, b) -> { });
        SequenceBlocks.RowMoves moves = new SequenceBlocks.RowMoves();
        assertThrows(IllegalArgumentException.class, () -> s.compact(0, new int[] {2, 1}, moves, pool));
        assertThrows(IllegalArgumentException.class, () -> s.compact(0, new int[] {4}, moves, pool));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.append(4, pool, (l, i, b) -> { }));
        assertTrue(e.getMessage().contains("no free block"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pool.release(7));
    }
}
