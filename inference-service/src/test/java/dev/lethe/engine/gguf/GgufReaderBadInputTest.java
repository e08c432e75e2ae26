package dev.lethe.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgufWriter.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damaged files, made by writing a good one and breaking one thing: each must fail with a message saying what. */
class GgufReaderBadInputTest {
    private static final String NAME = "w";

    @TempDir
    Path dir;

    /** A file with no metadata and one 64-element F32 tensor named "w". */
    private byte[] goodFile() throws IOException {
        Path path = dir.resolve("good.gguf");
        GgufWriter.write(path, Map.of(), List.of(TensorSource.of(NAME, new long[] {64}, GgmlType.F32, new float[64])));
        try (GgufFile ok = GgufReader.read(path)) {
            assertTrue(ok.hasTensor(NAME));
        }
        return Files.readAllBytes(path);
    }

    private GgufFormatException readFails(byte[] bytes) throws IOException {
        Path path = dir.resolve("bad.gguf");
        Files.write(path, bytes);
        return assertThrows(GgufFormatException.class, () -> GgufReader.read(path).close());
    }

    private static void assertMentions(GgufFormatException e, String... words) {
        for (String w : words) assertTrue(e.getMessage().contains(w), "'" + e.getMessage() + "' should mention '" + w + "'");
    }

    @Test
    void badMagic() throws IOException {
        byte[] bytes = goodFile();
        bytes[0] = 'X';
        assertMentions(readFails(bytes), "not a GGUF file", "magic");
    }

    @Test
    void truncatedInTheHeader() throws IOException {
        byte[] bytes = goodFile();
        assertMentions(readFails(Arrays.copyOf(bytes, 30)), "unexpected end", "truncated");
    }

    @Test
    void truncatedInTheTensorData() throws IOException {
        byte[] bytes = goodFile();
        assertMentions(readFails(Arrays.copyOf(bytes, bytes.length - 10)), "'" + NAME + "'", "outside the file", "truncated");
    }

    @Test
    void corruptedTensorCount() throws IOException {
        byte[] bytes = goodFile();
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(8, -5);
        assertMentions(readFails(bytes), "tensor count", "-5");
    }

    @Test
    void corruptedMetadataCount() throws IOException {
        byte[] bytes = goodFile();
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 50);
        assertMentions(readFails(bytes), "metadata count");
    }

    @Test
    void unknownTensorTypeId() throws IOException {
        byte[] bytes = goodFile();
        // header (24) + name (8 + 1) + dimension count (4) + one dimension (8), then the type id
        int typeAt = 24 + 8 + NAME.length() + 4 + 8;
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertTrue(buffer.getInt(typeAt) == GgmlType.F32.id());
        buffer.putInt(typeAt, 99);
        assertMentions(readFails(bytes), "'" + NAME + "'", "type id 99");
    }
}
