package dev.lethe.gateway.jobs;

import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobStatus;
import java.util.List;

/** What a subscriber to one job's stream receives, in order. */
public sealed interface StreamEvent {

    /**
     * Generated tokens {@code fromSeq..toSeq}. {@code text} is the decoded text of exactly these tokens,
     * or null when a resume point fell inside a chunk written by the worker: the worker decodes text
     * per chunk (holding back incomplete characters), so part of a chunk has ids but no exact text.
     * A client that resumes after an event id it received always gets whole chunks.
     */
    record Tokens(long fromSeq, long toSeq, List<Integer> tokenIds, String text) implements StreamEvent {
        public Tokens {
            tokenIds = List.copyOf(tokenIds);
        }
    }

    /** The job's state changed (or, first thing on a stream, what it is now). */
    record StatusChanged(JobStatus status) implements StreamEvent {
    }

    /** The last event of a job's stream. {@code error} is set when the job failed. */
    record Finished(FinishReason reason, long lastSeq, Usage usage, JobError error) implements StreamEvent {
    }

    /**
     * The last event of a stream that cannot go on: tokens the client needs are in neither the
     * gateway's memory nor Kafka (for example past the topic's retention).
     */
    record Lost(String detail) implements StreamEvent {
    }
}
