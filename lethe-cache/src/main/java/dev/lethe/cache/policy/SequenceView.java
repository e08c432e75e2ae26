package dev.lethe.cache.policy;

/** What a policy sees of the whole sequence when a step ends. */
public interface SequenceView {

    /** Steps completed before this one (0 while the first step, usually the prefill, ends). */
    long step();

    /** Prompt length: declared by the engine, or learned as the positions appended in the first step. */
    int promptLength();

    int layers();

    /** Retained tokens summed over all layers. */
    long retainedTokens();
}
