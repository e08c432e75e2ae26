package dev.lethe.worker;

import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Records that could not be written after every retry; {@link #unsent} lists them in their order, to try again. */
final class PublishException extends RuntimeException {
    private final transient List<ProducerRecord<byte[], byte[]>> unsent;

    PublishException(List<ProducerRecord<byte[], byte[]>> unsent, Throwable cause) {
        super(unsent.size() + " record(s) not written to Kafka: " + cause, cause);
        this.unsent = List.copyOf(unsent);
    }

    List<ProducerRecord<byte[], byte[]>> unsent() {
        return unsent;
    }
}
