package dev.lethe.gateway.jobs;

import static dev.lethe.gateway.jobs.Chunks.chunk;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.schemas.FinishReason;
import org.junit.jupiter.api.Test;

class TokenLogTest {

    @Test
    void keepsContiguousChunksAndIgnoresRepeats() {
        TokenLog log = new TokenLog(100);
        assertThat(log.append(chunk("j", 0, 2))).isTrue();
        assertThat(log.append(chunk("j", 3, 5))).isTrue();
        assertThat(log.append(chunk("j", 0, 2))).as("redelivered").isFalse();
        assertThat(log.append(chunk("j", 4, 5))).as("a resumed worker repeating itself").isFalse();
        assertThat(log.append(Chunks.end("j", 5, FinishReason.STOP))).as("end markers hold no tokens").isFalse();
        assertThat(log.firstSeq()).isEqualTo(0);
        assertThat(log.lastSeq()).isEqualTo(5);
        assertThat(log.size()).isEqualTo(2);
    }

    @Test
    void aGapRestartsTheLogAtTheNewChunk() {
        TokenLog log = new TokenLog(100);
        log.append(chunk("j", 0, 2));
        log.append(chunk("j", 7, 9));
        assertThat(log.firstSeq()).isEqualTo(7);
        assertThat(log.covers(2)).as("tokens 3..6 are missing").isFalse();
        assertThat(log.covers(6)).isTrue();
    }

    @Test
    void findsTheChunkHoldingTheTokenAfterACursor() {
        TokenLog log = new TokenLog(1000);
        Chunks.split("j", 300, 3).forEach(log::append);
        for (long cursor = -1; cursor < 299; cursor++) {
            var found = log.chunkAfter(cursor);
            assertThat(found.fromSeq()).as("cursor %d", cursor).isLessThanOrEqualTo(cursor + 1);
            assertThat(found.toSeq()).as("cursor %d", cursor).isGreaterThan(cursor);
        }
        assertThat(log.covers(299)).isFalse();
    }

    @Test
    void staysWithinItsBoundDroppingTheOldest() {
        TokenLog log = new TokenLog(8);
        Chunks.split("j", 100, 2).forEach(log::append); // 50 chunks
        assertThat(log.size()).isLessThanOrEqualTo(8);
        assertThat(log.lastSeq()).isEqualTo(99);
        assertThat(log.firstSeq()).isEqualTo(100 - 2L * log.size());
        assertThat(log.covers(-1)).isFalse();
    }
}
