package dev.lethe.gateway.jobs;

import dev.lethe.schemas.TokenChunk;
import java.time.Instant;
import java.util.List;
import reactor.core.publisher.Mono;

/** Where token chunks no longer held in memory are read back from: {@code lethe.tokens}. */
public interface TokenArchive {

    /**
     * The job's chunks that hold tokens after {@code afterSeq}, in the order they were written, reading
     * at least up to {@code untilSeq} or to the end of what is stored now, whichever comes first. The
     * result may include chunks past {@code untilSeq} and repeats; the caller drops those.
     *
     * @param since when the job was created, to skip older data; null to read from the beginning
     */
    Mono<List<TokenChunk>> read(String jobId, long afterSeq, long untilSeq, Instant since);
}
