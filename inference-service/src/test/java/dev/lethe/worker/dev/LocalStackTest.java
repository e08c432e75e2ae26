package dev.lethe.worker.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What {@code lethe up} started is stopped together, also when the stop comes while it is still starting. */
class LocalStackTest {
    private final PrintStream err = new PrintStream(new ByteArrayOutputStream());

    private static ProcessBuilder sleeper() {
        return new ProcessBuilder("sleep", "300");
    }

    @Test
    void stopEndsEveryChildAndClosesInProcessPartsInReverseOrder() throws Exception {
        LocalStack stack = LocalStack.withoutShutdownHook(err);
        List<String> closed = new ArrayList<>();
        stack.adopt(() -> closed.add("broker"));
        stack.adopt(() -> closed.add("worker"));
        Process worker = stack.spawnWorker(sleeper());
        Process gateway = stack.spawnGateway(sleeper());
        assertTrue(worker.isAlive() && gateway.isAlive());

        stack.stop();
        stack.awaitStopped();
        assertFalse(worker.isAlive(), "worker JVM left running");
        assertFalse(gateway.isAlive(), "gateway JVM left running");
        assertEquals(List.of("worker", "broker"), closed);
    }

    @Test
    void nothingStartsOnceTheStopHasBegun() throws Exception {
        LocalStack stack = LocalStack.withoutShutdownHook(err);
        stack.stop();
        long before = ProcessHandle.current().children().count();
        assertThrows(LocalStack.Stopping.class, () -> stack.spawnGateway(sleeper()));
        assertThrows(LocalStack.Stopping.class, () -> stack.spawnWorker(sleeper()));
        assertEquals(before, ProcessHandle.current().children().count(), "a child was spawned after the stop");

        List<String> closed = new ArrayList<>();
        assertThrows(LocalStack.Stopping.class, () -> stack.adopt(() -> closed.add("late worker")));
        assertEquals(List.of("late worker"), closed, "a part that finished starting after the stop is closed at once");
    }

    @Test
    void aSecondStopDoesNothing() throws Exception {
        LocalStack stack = LocalStack.withoutShutdownHook(err);
        List<String> closed = new ArrayList<>();
        stack.adopt(() -> closed.add("broker"));
        stack.stop();
        stack.stop();
        assertEquals(List.of("broker"), closed);
    }
}
