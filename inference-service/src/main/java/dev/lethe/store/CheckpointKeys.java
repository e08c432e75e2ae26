package dev.lethe.store;

import java.util.regex.Pattern;

/**
 * Job and checkpoint ids as stores accept them, and the blob names made from them. The ids follow the event
 * schemas' pattern, which starts with a letter or digit and allows only {@code [A-Za-z0-9._~-]}: no slash,
 * no {@code ..}, no leading dot, so an id is safe as a file name and as an S3 key segment as it is.
 */
public final class CheckpointKeys {
    public static final Pattern ID_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._~-]{0,127}");
    /** Every checkpoint blob is named {@code <checkpointId>.lkv} ("Lethe KV"). */
    public static final String SUFFIX = ".lkv";

    private CheckpointKeys() {
    }

    /** Returns {@code id} if it is a valid job or checkpoint id; otherwise an {@code INVALID} error naming it. */
    public static String requireId(String what, String id) throws CheckpointStoreException {
        if (id == null) throw CheckpointStoreException.invalid(what + " is missing");
        if (!ID_PATTERN.matcher(id).matches()) {
            throw CheckpointStoreException.invalid(what + " '" + id + "' is not a valid id: it must match "
                    + ID_PATTERN.pattern() + " (letters, digits, '.', '_', '~', '-'; no slash; at most 128)");
        }
        return id;
    }

    public static String blobName(String checkpointId) {
        return checkpointId + SUFFIX;
    }

    /** The checkpoint id a blob name stands for, or {@code null} for a name that is not a checkpoint blob. */
    public static String checkpointIdOf(String blobName) {
        if (!blobName.endsWith(SUFFIX)) return null;
        String id = blobName.substring(0, blobName.length() - SUFFIX.length());
        return ID_PATTERN.matcher(id).matches() ? id : null;
    }
}
