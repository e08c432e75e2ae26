package dev.lethe.cache.checkpoint;

/**
 * A sampler's parameters and the state of its random generator, as a checkpoint carries them so a resumed
 * job draws the same tokens the original would have. Engine-agnostic: the engine maps its sampler to this.
 */
public record SamplerState(float temperature, float topP, int topK, float minP, long seed, long rngState) {
}
