package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cli.LetheCliTest.Result;
import dev.lethe.engine.gpu.GpuDevice;
import dev.lethe.engine.testutil.SharedFiles;
import org.junit.jupiter.api.Test;

/**
 * {@code generate --device}: without a usable GPU (CI) {@code cuda} fails with one line saying why; with one
 * (the GPU machine) it prints what the CPU prints for a greedy run.
 */
class DeviceOptionTest {
    private static final String MODEL = SharedFiles.storiesModel().toString();

    @Test
    void anUnknownDeviceIsAUsageError() {
        Result r = LetheCliTest.run("generate", "--model", MODEL, "--prompt", "hi", "--device", "tpu");
        assertTrue(r.exitCode() != 0, r.toString());
        assertTrue(r.err().startsWith("lethe: --device must be cpu or cuda, got 'tpu'"), r.err());
    }

    @Test
    void cudaEitherMatchesTheCpuOrSaysWhyItCannotRun() {
        String[] common = {"generate", "--model", MODEL, "--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "60"};
        Result cpu = LetheCliTest.run(concat(common, "--device", "cpu"));
        Result cuda = LetheCliTest.run(concat(common, "--device", "cuda"));
        assertEquals(0, cpu.exitCode(), cpu.toString());
        String reason = GpuDevice.unavailableReason();
        if (reason == null) {
            assertEquals(0, cuda.exitCode(), cuda.toString());
            assertEquals(cpu.out(), cuda.out());
        } else {
            assertTrue(cuda.exitCode() != 0, cuda.toString());
            assertEquals("lethe: --device cuda: " + reason, cuda.err().strip());
            assertFalse(cuda.err().contains("\tat "), cuda.err());
            assertEquals("", cuda.out());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
