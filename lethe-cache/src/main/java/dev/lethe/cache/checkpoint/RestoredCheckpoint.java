package dev.lethe.cache.checkpoint;

import dev.lethe.cache.OffHeapKvCache;

/** A checkpoint read back: its header, the rebuilt cache (the caller owns and closes it) and the sequence. */
public record RestoredCheckpoint(CheckpointHeader header, OffHeapKvCache cache, SequenceState sequence) {
}
