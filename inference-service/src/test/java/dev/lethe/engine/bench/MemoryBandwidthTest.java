package dev.lethe.engine.bench;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MemoryBandwidthTest {
    @Test
    void measuresAPlausibleRate() {
        // 8 MiB is cache-sized, so this checks the mechanics, not the machine: any real memory moves
        // between 0.1 GB/s and 10 TB/s.
        double gbs = MemoryBandwidth.measure(8 << 20, 2, 2);
        assertTrue(gbs > 0.1 && gbs < 10_000, "measured " + gbs + " GB/s");
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(1 << 20, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(1 << 20, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(16, 2, 1));
    }
}
