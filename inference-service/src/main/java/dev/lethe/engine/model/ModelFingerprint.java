package dev.lethe.engine.model;

import dev.lethe.cache.KvLayout;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufTensorInfo;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Identifies a model for checkpoints: a restored KV cache is only valid for the exact weights and tokenizer
 * that produced it. Hashing every weight byte of a multi-gigabyte file would make loading slow, so the model
 * hash covers all metadata, the tensor directory and the first {@value #SAMPLE_BYTES} bytes of every tensor:
 * any re-quantization, reshaping, retraining or re-export changes it.
 */
final class ModelFingerprint {
    private static final int SAMPLE_BYTES = 4096;

    private ModelFingerprint() {}

    static ModelIdentity of(GgufFile gguf, KvLayout layout) {
        MessageDigest model = sha256();
        MessageDigest tokenizer = sha256();
        for (Map.Entry<String, Object> e : new TreeMap<>(gguf.metadata()).entrySet()) {
            byte[] entry = (e.getKey() + "=" + render(e.getValue()) + "\n").getBytes(StandardCharsets.UTF_8);
            model.update(entry);
            if (e.getKey().startsWith("tokenizer.")) tokenizer.update(entry);
        }
        for (GgufTensorInfo t : gguf.tensors().values()) {
            model.update((t.name() + ":" + t.type() + ":" + Arrays.toString(t.dims()) + "\n").getBytes(StandardCharsets.UTF_8));
            model.update(t.data().asSlice(0, Math.min(SAMPLE_BYTES, t.data().byteSize())).toArray(ValueLayout.JAVA_BYTE));
        }
        return new ModelIdentity(HexFormat.of().formatHex(model.digest()), HexFormat.of().formatHex(tokenizer.digest()), layout);
    }

    private static String render(Object value) {
        return switch (value) {
            case Object[] a -> Arrays.deepToString(a);
            case int[] a -> Arrays.toString(a);
            case float[] a -> Arrays.toString(a);
            case long[] a -> Arrays.toString(a);
            case double[] a -> Arrays.toString(a);
            case byte[] a -> Arrays.toString(a);
            case short[] a -> Arrays.toString(a);
            case boolean[] a -> Arrays.toString(a);
            default -> String.valueOf(value);
        };
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
