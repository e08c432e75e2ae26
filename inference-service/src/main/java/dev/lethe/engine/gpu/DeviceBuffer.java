package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/** A block of device memory (cuMemAlloc) with typed copies to and from the host. */
public final class DeviceBuffer implements AutoCloseable {
    /** Host-to-device copies of mapped files go in slices of this size (a ByteBuffer holds at most 2 GB). */
    private static final long UPLOAD_SLICE = 1L << 30;

    private final CUdeviceptr pointer = new CUdeviceptr();
    private final long bytes;
    private boolean freed;

    private DeviceBuffer(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("device buffer size must be positive, got " + bytes);
        this.bytes = bytes;
        cuMemAlloc(pointer, bytes);
    }

    public static DeviceBuffer allocate(long bytes) {
        return new DeviceBuffer(bytes);
    }

    public static DeviceBuffer of(float[] data) {
        DeviceBuffer b = new DeviceBuffer((long) data.length * Float.BYTES);
        b.upload(data, 0, data.length, 0);
        return b;
    }

    public static DeviceBuffer of(int[] data) {
        DeviceBuffer b = new DeviceBuffer((long) data.length * Integer.BYTES);
        cuMemcpyHtoD(b.pointer, Pointer.to(data), b.bytes);
        return b;
    }

    public static DeviceBuffer of(double[] data) {
        DeviceBuffer b = new DeviceBuffer((long) data.length * Double.BYTES);
        cuMemcpyHtoD(b.pointer, Pointer.to(data), b.bytes);
        return b;
    }

    /** A copy of the segment's bytes (a tensor of a memory-mapped model file, say). */
    public static DeviceBuffer of(MemorySegment segment) {
        DeviceBuffer b = new DeviceBuffer(segment.byteSize());
        for (long at = 0; at < segment.byteSize(); at += UPLOAD_SLICE) {
            long n = Math.min(UPLOAD_SLICE, segment.byteSize() - at);
            cuMemcpyHtoD(b.at(at), Pointer.to(segment.asSlice(at, n).asByteBuffer()), n);
        }
        return b;
    }

    public static DeviceBuffer of(byte[] data) {
        DeviceBuffer b = new DeviceBuffer(data.length);
        cuMemcpyHtoD(b.pointer, Pointer.to(data), data.length);
        return b;
    }

    public long bytes() {
        return bytes;
    }

    CUdeviceptr pointer() {
        return pointer;
    }

    /** The device address {@code byteOffset} bytes into this buffer. */
    CUdeviceptr at(long byteOffset) {
        if (byteOffset < 0 || byteOffset > bytes) {
            throw new IndexOutOfBoundsException("offset " + byteOffset + " outside a buffer of " + bytes + " bytes");
        }
        return pointer.withByteOffset(byteOffset);
    }

    /** Copies {@code count} floats from {@code src[from..]} to this buffer at {@code byteOffset}. */
    public void upload(float[] src, int from, int count, long byteOffset) {
        check(byteOffset, (long) count * Float.BYTES);
        cuMemcpyHtoD(at(byteOffset), Pointer.to(src).withByteOffset((long) from * Float.BYTES), (long) count * Float.BYTES);
    }

    public void upload(int[] src, int count) {
        check(0, (long) count * Integer.BYTES);
        cuMemcpyHtoD(pointer, Pointer.to(src), (long) count * Integer.BYTES);
    }

    /** Copies {@code count} floats at {@code byteOffset} of this buffer into {@code dst[to..]} (waits for queued work). */
    public void download(float[] dst, int to, int count, long byteOffset) {
        check(byteOffset, (long) count * Float.BYTES);
        cuMemcpyDtoH(Pointer.to(dst).withByteOffset((long) to * Float.BYTES), at(byteOffset), (long) count * Float.BYTES);
    }

    public void download(int[] dst, int count) {
        check(0, (long) count * Integer.BYTES);
        cuMemcpyDtoH(Pointer.to(dst), pointer, (long) count * Integer.BYTES);
    }

    public void download(byte[] dst) {
        check(0, dst.length);
        cuMemcpyDtoH(Pointer.to(dst), pointer, dst.length);
    }

    /** Device-to-device copy of {@code count} bytes. */
    void copyFrom(DeviceBuffer src, long srcOffset, long dstOffset, long count) {
        src.check(srcOffset, count);
        check(dstOffset, count);
        cuMemcpyDtoD(at(dstOffset), src.at(srcOffset), count);
    }

    private void check(long offset, long count) {
        if (freed) throw new IllegalStateException("device buffer already freed");
        if (offset < 0 || count < 0 || offset + count > bytes) {
            throw new IndexOutOfBoundsException(count + " bytes at " + offset + " do not fit a buffer of " + bytes + " bytes");
        }
    }

    @Override
    public void close() {
        if (!freed) {
            freed = true;
            cuMemFree(pointer);
        }
    }
}
