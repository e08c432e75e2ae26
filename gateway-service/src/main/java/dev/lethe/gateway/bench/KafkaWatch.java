package dev.lethe.gateway.bench;

import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A plain consumer of {@code lethe.tokens}, as the gateway's own is set up (every partition, from the
 * end), noting when it first reads each token: the moment the gateway could have it at the earliest.
 */
final class KafkaWatch implements AutoCloseable {

    private final KafkaConsumer<String, byte[]> consumer;
    private final EventCodec codec = new EventCodec();
    private final TokenTimes times;
    private final Thread thread;
    private volatile boolean running = true;

    KafkaWatch(String bootstrapServers, TokenTimes times) {
        this.times = times;
        this.consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = consumer.partitionsFor(Topics.TOKENS, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(Topics.TOKENS, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // resolve the end now, before any token is written
        this.thread = Thread.ofPlatform().name("bench-kafka-watch").start(this::run);
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    long now = System.nanoTime();
                    int job = times.indexOf(record.key());
                    if (job >= 0 && codec.decode(record.value(), TokenChunk.class)
                            instanceof DecodeResult.Valid<TokenChunk>(TokenChunk chunk)) {
                        times.seen(job, chunk.toSeq(), now);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(5_000);
    }
}
