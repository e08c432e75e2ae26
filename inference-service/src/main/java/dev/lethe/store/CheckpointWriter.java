package dev.lethe.store;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Writes one checkpoint blob into the stream a store gives it, for example
 * {@code out -> CheckpointCodec.write(out, model, cache, sequence)}. It must not close the stream: the store
 * decides when the blob is complete.
 */
@FunctionalInterface
public interface CheckpointWriter {
    void writeTo(OutputStream out) throws IOException;
}
