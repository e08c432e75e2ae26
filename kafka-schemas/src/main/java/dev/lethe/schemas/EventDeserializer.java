package dev.lethe.schemas;

import java.util.Map;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Kafka deserializer that never throws: every record becomes a {@link DecodeResult}, and an
 * {@link DecodeResult.Invalid} keeps the bytes and the reason, so the listener can send it to the DLQ
 * and move on. A deserializer that throws instead makes the consumer fail on the same offset again
 * and again (a poison pill) unless every caller wires an error handler.
 *
 * <p>The worker, which must forward the exact key, value and headers to the DLQ, reads records with
 * {@code ByteArrayDeserializer} and calls {@link EventCodec#decode(byte[], Class)} itself; this class
 * is for consumers that only need the value (the gateway, tools).
 *
 * <p>A null value (a tombstone on a compacted topic) stays null.
 */
public final class EventDeserializer<T extends Event> implements Deserializer<DecodeResult<T>> {

    /**
     * Config key naming the expected event by schema id, for example {@code lethe.job-request/v1},
     * when Kafka creates the deserializer by class name. Without it any event type is accepted.
     */
    public static final String EVENT_TYPE_CONFIG = "lethe.event.type";

    private final EventCodec codec;
    private Class<? extends Event> type;

    /** For Kafka's reflective configuration: any event type unless {@link #EVENT_TYPE_CONFIG} narrows it. */
    public EventDeserializer() {
        this.codec = new EventCodec();
        this.type = Event.class;
    }

    public EventDeserializer(EventCodec codec, Class<T> type) {
        this.codec = codec;
        this.type = type;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        Object id = configs.get(EVENT_TYPE_CONFIG);
        if (id != null) {
            type = EventType.bySchemaId(id.toString())
                    .orElseThrow(() -> new IllegalArgumentException(EVENT_TYPE_CONFIG + " = " + id
                            + " is not a schema id; expected one of " + EventType.schemaIds()))
                    .recordType();
        }
    }

    @Override
    @SuppressWarnings("unchecked") // type is T's class, or narrower when configured by schema id
    public DecodeResult<T> deserialize(String topic, byte[] data) {
        return data == null ? null : (DecodeResult<T>) codec.decode(data, type);
    }
}
