package dev.lethe.schemas;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka serializer for events: {@link EventCodec#encode}. An event that breaks its schema fails the
 * send with a {@link SerializationException} whose cause is the {@link InvalidEventException}.
 * A null value stays null (a tombstone, which deletes a job from the compacted topics).
 */
public final class EventSerializer<T extends Event> implements Serializer<T> {

    private final EventCodec codec;

    /** For Kafka's reflective configuration ({@code value.serializer}). */
    public EventSerializer() {
        this(new EventCodec());
    }

    public EventSerializer(EventCodec codec) {
        this.codec = codec;
    }

    @Override
    public byte[] serialize(String topic, T event) {
        if (event == null) {
            return null;
        }
        try {
            return codec.encode(event);
        } catch (InvalidEventException e) {
            throw new SerializationException("cannot send " + event.type().schemaId() + " for job " + event.jobId()
                    + " to " + topic + ": " + e.getMessage(), e);
        }
    }
}
