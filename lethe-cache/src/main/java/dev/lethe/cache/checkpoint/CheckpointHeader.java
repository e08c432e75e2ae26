package dev.lethe.cache.checkpoint;

import dev.lethe.cache.policy.PolicySpec;

/** The header of a checkpoint: format version, model identity, dtype of the cached data, and the policy. */
public record CheckpointHeader(int formatVersion, ModelIdentity model, String dtype, PolicySpec policy, int policyVersion) {
}
