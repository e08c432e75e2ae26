package dev.lethe.engine.scheduler;

import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import java.io.IOException;

/** Reads a job's checkpoint when the job is admitted (on the decode thread); the caller owns the restored cache. */
@FunctionalInterface
public interface CheckpointSource {
    /** @throws IOException when the checkpoint is missing, damaged, or belongs to another model (the job is then recomputed) */
    RestoredCheckpoint load() throws IOException;
}
