package dev.lethe.engine.gpu;

import dev.lethe.cache.KvLayout;
import java.util.Arrays;

/**
 * One sequence's keys and values on the device: per layer, {@code capacity} slots laid out like
 * {@link dev.lethe.cache.KvCache#keys} (slot-major, float32), with ragged lengths and the original
 * position of each slot. A pruning round is applied by {@link #retain}, which compacts the survivors on the
 * device.
 */
final class DeviceKvCache implements AutoCloseable {
    private final GpuDevice device;
    private final KvLayout layout;
    private final int capacity;
    private final DeviceBuffer[] keys;
    private final DeviceBuffer[] values;
    private final int[] lengths;
    private final int[][] positions;
    private final DeviceBuffer scratch;
    private final DeviceBuffer slotIndex;

    DeviceKvCache(GpuDevice device, KvLayout layout, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("KV capacity must be positive, got " + capacity);
        this.device = device;
        this.layout = layout;
        this.capacity = capacity;
        long layerBytes = (long) capacity * layout.kvDim() * Float.BYTES;
        keys = new DeviceBuffer[layout.layers()];
        values = new DeviceBuffer[layout.layers()];
        for (int l = 0; l < layout.layers(); l++) {
            keys[l] = DeviceBuffer.allocate(layerBytes);
            values[l] = DeviceBuffer.allocate(layerBytes);
        }
        lengths = new int[layout.layers()];
        positions = new int[layout.layers()][capacity];
        scratch = DeviceBuffer.allocate(layerBytes);
        slotIndex = DeviceBuffer.allocate((long) capacity * Integer.BYTES);
    }

    int capacity() {
        return capacity;
    }

    int length(int layer) {
        return lengths[layer];
    }

    DeviceBuffer keys(int layer) {
        return keys[layer];
    }

    DeviceBuffer values(int layer) {
        return values[layer];
    }

    int position(int layer, int slot) {
        return positions[layer][slot];
    }

    /** Appends n tokens' rows ([n][kvDim] each, on the device) at positions start..start+n-1. */
    void append(int layer, int start, DeviceBuffer k, DeviceBuffer v, int n) {
        int length = lengths[layer];
        if (length + n > capacity) {
            throw new IllegalStateException("layer " + layer + " holds " + length + " of " + capacity + " KV slots; "
                    + n + " more do not fit");
        }
        long rowBytes = (long) layout.kvDim() * Float.BYTES;
        keys[layer].copyFrom(k, 0, length * rowBytes, n * rowBytes);
        values[layer].copyFrom(v, 0, length * rowBytes, n * rowBytes);
        for (int t = 0; t < n; t++) positions[layer][length + t] = start + t;
        lengths[layer] = length + n;
    }

    /**
     * Keeps only the slots whose positions are listed (increasing, a subset of those held), moving them to
     * slots 0.. in order on the device.
     */
    void retain(int layer, int[] keptPositions, int count) {
        int length = lengths[layer];
        int[] index = new int[count];
        int slot = 0;
        for (int i = 0; i < count; i++) {
            while (slot < length && positions[layer][slot] != keptPositions[i]) slot++;
            if (slot == length) {
                throw new IllegalStateException("layer " + layer + ": position " + keptPositions[i]
                        + " is not held on the device (the host cache and the device cache diverged)");
            }
            index[i] = slot++;
        }
        if (count == 0) {
            lengths[layer] = 0;
            return;
        }
        slotIndex.upload(index, count);
        Kernels k = device.kernels();
        long bytes = (long) count * layout.kvDim() * Float.BYTES;
        for (DeviceBuffer data : new DeviceBuffer[] {keys[layer], values[layer]}) {
            k.gatherRows(data.pointer(), scratch.pointer(), slotIndex.pointer(), count, layout.kvDim());
            data.copyFrom(scratch, 0, 0, bytes);
        }
        System.arraycopy(Arrays.copyOf(keptPositions, count), 0, positions[layer], 0, count);
        lengths[layer] = count;
    }

    /** Bytes of key and value data currently held (all layers). */
    long bytesHeld() {
        long slots = 0;
        for (int l : lengths) slots += l;
        return slots * layout.bytesPerTokenPerLayer();
    }

    @Override
    public void close() {
        for (int l = 0; l < layout.layers(); l++) {
            keys[l].close();
            values[l].close();
        }
        scratch.close();
        slotIndex.close();
    }
}
