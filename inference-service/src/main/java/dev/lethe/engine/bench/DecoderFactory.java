package dev.lethe.engine.bench;

import java.io.IOException;
import java.nio.file.Path;

/** Opens a model file for a single-sequence decode; how the benchmark reaches the engine's forward pass. */
@FunctionalInterface
public interface DecoderFactory {
    DecodeStep open(Path model) throws IOException;
}
