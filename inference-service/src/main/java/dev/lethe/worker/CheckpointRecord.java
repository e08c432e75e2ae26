package dev.lethe.worker;

/**
 * A checkpoint made durable, as a job's history tells it. The detail text is {@code key=value} pairs with the
 * store last (its description may hold spaces), so that readers such as the gateway can pick the values out.
 *
 * @param bytes       size of the blob
 * @param kvBytes     key and value bytes the job's pruned cache held
 * @param fullKvBytes what its cache would have held without eviction
 * @param serializeMs time the decode thread spent writing the checkpoint
 * @param storeMs     time from the end of that to the blob being durable and its manifest written
 */
record CheckpointRecord(String checkpointId, long lastSeq, long bytes, long kvBytes, long fullKvBytes, long serializeMs,
                        long storeMs, String store) {

    String detail() {
        return "checkpoint=" + checkpointId + " lastSeq=" + lastSeq + " bytes=" + bytes + " kvBytes=" + kvBytes
                + " fullKvBytes=" + fullKvBytes + " serializeMs=" + serializeMs + " storeMs=" + storeMs + " store=" + store;
    }
}
