package dev.lethe.engine.bench;

/** One sequence being decoded: each call runs the model on one token at the next position. */
public interface DecodeStep extends AutoCloseable {
    float[] forward(int token);

    /** Releases the sequence and the model it was opened on. */
    @Override
    void close();
}
