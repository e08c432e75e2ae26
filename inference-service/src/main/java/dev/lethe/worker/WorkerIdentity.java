package dev.lethe.worker;

/**
 * Who this worker is, resolved once at start-up (a SpEL-visible bean: the control listener's group id comes from it).
 *
 * @param id           the worker id written into job states and token chunks
 * @param controlGroup the consumer group this worker reads {@code lethe.control} with
 */
public record WorkerIdentity(String id, String controlGroup) {}
