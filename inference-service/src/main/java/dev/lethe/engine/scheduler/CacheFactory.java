package dev.lethe.engine.scheduler;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.policy.PolicySpec;

/** Makes the KV cache of a job that is starting (the caller may attach listeners, draw from a shared pool...). */
@FunctionalInterface
public interface CacheFactory {
    KvCache create(PolicySpec policy);
}
