package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device through JCuda's driver API: its primary context made current on the calling thread and
 * Lethe's kernels loaded from the fatbins the build put on the classpath ({@code cuda/NAME.fatbin}, compiled
 * by nvcc from {@code src/main/cuda/NAME.cu}). Every kernel launch, event and asynchronous copy goes to one
 * stream that this device owns: a blocking stream (default flags), so the synchronous copies of
 * {@link DeviceBuffer}, which use the legacy default stream, stay ordered against it. An explicit stream is
 * what CUDA graph capture needs (the legacy stream cannot be captured). Use from one thread at a time.
 */
public final class GpuDevice implements AutoCloseable {
    static final String[] MODULES = {"elementwise", "matvec", "attention", "sampling", "batch"};

    private final CUdevice device;
    private final String name;
    private final long totalMemory;
    private final CUstream stream = new CUstream();
    private final Kernels kernels;

    private GpuDevice(CUdevice device, Map<String, byte[]> images) {
        this.device = device;
        byte[] nameBytes = new byte[256];
        cuDeviceGetName(nameBytes, nameBytes.length, device);
        this.name = new String(nameBytes, StandardCharsets.US_ASCII).trim().replace("\0", "");
        long[] memory = new long[1];
        cuDeviceTotalMem(memory, device);
        this.totalMemory = memory[0];
        Map<String, CUmodule> modules = new HashMap<>();
        for (var e : images.entrySet()) {
            CUmodule module = new CUmodule();
            cuModuleLoadData(module, e.getValue());
            modules.put(e.getKey(), module);
        }
        cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT);
        this.kernels = new Kernels(modules, stream);
    }

    /**
     * Opens device {@code ordinal}, or throws {@link GpuUnavailableException} saying what is missing: the
     * kernels (built without nvcc), JCuda's native library, the CUDA driver, or a device.
     */
    public static GpuDevice open(int ordinal) {
        Map<String, byte[]> images = loadImages();
        loadDriverBinding();
        try {
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (ordinal < 0 || ordinal >= count[0]) {
                throw new GpuUnavailableException("no CUDA device " + ordinal + " (this machine has " + count[0] + ")");
            }
            CUdevice device = new CUdevice();
            cuDeviceGet(device, ordinal);
            CUcontext context = new CUcontext();
            cuDevicePrimaryCtxRetain(context, device);
            cuCtxSetCurrent(context);
            return new GpuDevice(device, images);
        } catch (jcuda.CudaException e) {
            throw new GpuUnavailableException("CUDA failed to start: " + e.getMessage(), e);
        }
    }

    /** Why JCuda's driver binding failed to load, once it has: the JVM does not retry a failed class initialisation. */
    private static String bindingFailure;

    private static synchronized void loadDriverBinding() {
        if (bindingFailure != null) throw new GpuUnavailableException(bindingFailure);
        try {
            JCudaDriver.setExceptionsEnabled(true);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            String detail = String.valueOf(e.getMessage());
            bindingFailure = detail.contains("libcuda.so")
                    ? "no CUDA driver on this machine (libcuda.so.1 not found)"
                    : "JCuda's native driver library could not be loaded: " + detail.lines().findFirst().orElse(detail);
            throw new GpuUnavailableException(bindingFailure, e);
        }
    }

    /** Null if the GPU backend can run here, else the reason it cannot. Opens and closes the device. */
    public static String unavailableReason() {
        try (GpuDevice ignored = open(0)) {
            return null;
        } catch (GpuUnavailableException e) {
            return e.getMessage();
        }
    }

    private static Map<String, byte[]> loadImages() {
        Map<String, byte[]> images = new HashMap<>();
        for (String module : MODULES) {
            String resource = "/cuda/" + module + ".fatbin";
            try (InputStream in = GpuDevice.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new GpuUnavailableException("the CUDA kernels were not built (no " + resource
                            + " on the classpath): build on a machine with nvcc on the PATH");
                }
                images.put(module, in.readAllBytes());
            } catch (IOException e) {
                throw new GpuUnavailableException("cannot read " + resource + ": " + e.getMessage(), e);
            }
        }
        return images;
    }

    public String name() {
        return name;
    }

    public long totalMemory() {
        return totalMemory;
    }

    Kernels kernels() {
        return kernels;
    }

    /** The stream all of this device's work is queued on. */
    CUstream stream() {
        return stream;
    }

    /** Waits for all queued work; a kernel's asynchronous failure surfaces here as a {@link jcuda.CudaException}. */
    public void synchronize() {
        cuCtxSynchronize();
    }

    @Override
    public void close() {
        cuCtxSynchronize();
        cuStreamDestroy(stream);
        cuDevicePrimaryCtxRelease(device);
    }
}
