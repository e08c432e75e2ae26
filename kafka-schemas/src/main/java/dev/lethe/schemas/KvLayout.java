package dev.lethe.schemas;

/** The KV layout of a model: layers, KV heads per layer, dimension of one head. */
public record KvLayout(int layers, int kvHeads, int headDim) {
}
