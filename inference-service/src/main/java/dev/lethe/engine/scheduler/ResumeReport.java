package dev.lethe.engine.scheduler;

/**
 * How a resumed job was brought back, for its history.
 *
 * @param fromCheckpoint    true: restored from its checkpoint; false: recomputed (prompt and delivered tokens, one prefill)
 * @param checkpointLastSeq the checkpoint's last seq (-1 before the first token; meaningless when recomputed)
 * @param replayed          delivered tokens the checkpoint lacked, fed through the model before generating on
 * @param replayDiffering   how many of those this engine would have sampled differently (0 when it reproduces the
 *                          original run exactly; the delivered ones are kept either way)
 * @param caughtUp          tokens the checkpoint held that the client had not received, sent now
 * @param fallback          why the checkpoint was not used, or null (no checkpoint, or it was used)
 * @param nanos             time the decode thread spent bringing it back (read, restore, replay or prefill)
 */
public record ResumeReport(boolean fromCheckpoint, long checkpointLastSeq, int replayed, int replayDiffering,
                           int caughtUp, String fallback, long nanos) {
}
