package io.inferencejobs.inference;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds the devices a worker node has and checks, at start, that each really runs: a tiny model is loaded and run on
 * the device's execution provider. A CUDA device that cannot run says what is missing (the GPU or its driver, the
 * CUDA 12 runtime, cuDNN 9, or what ONNX Runtime's CUDA provider said), so a node never reports ready while it quietly
 * runs on the CPU.
 */
public final class DeviceProbe {
  /** The libraries ONNX Runtime 1.23's CUDA provider loads (CUDA 12, cuDNN 9). */
  static final List<String> CUDA_LIBRARIES = List.of("libcudart.so.12", "libcublasLt.so.12", "libcudnn.so.9");

  private DeviceProbe() {
  }

  /** A device that cannot run what it was asked to, and why. */
  public static final class Unavailable extends Exception {
    public Unavailable(String reason) {
      super(reason);
    }
  }

  /**
   * The devices {@code auto} stands for: one {@code cuda:N} per visible GPU, honouring {@code CUDA_VISIBLE_DEVICES}
   * (a list of the GPUs a process may use, which CUDA then numbers 0..n-1; empty or -1: none), else {@code cpu}.
   */
  public static List<String> discover(Path dev, String cudaVisibleDevices) {
    int gpus = 0;
    if (cudaVisibleDevices != null) {
      String v = cudaVisibleDevices.trim();
      gpus = v.isEmpty() || v.startsWith("-1") ? 0 : v.split(",").length;
    } else {
      try (var entries = Files.list(dev)) {
        gpus = (int) entries.map(p -> p.getFileName().toString()).filter(n -> n.matches("nvidia\\d+")).count();
      } catch (IOException e) {
        gpus = 0;
      }
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < gpus; i++) {
      out.add("cuda:" + i);
    }
    return out.isEmpty() ? List.of("cpu") : out;
  }

  /**
   * Runs the tiny model on {@code device} ({@code cpu} or {@code cuda:N}); returns the execution provider it ran on
   * ({@code CPU}, {@code CUDA:N}), or fails with what is missing.
   */
  public static String probe(String device) throws Unavailable {
    if (!device.startsWith("cuda")) {
      run(false, 0);
      return "CPU";
    }
    int index = device.contains(":") ? Integer.parseInt(device.substring(device.indexOf(':') + 1)) : 0;
    if (!Files.exists(Path.of("/dev/nvidia" + index)) && !Files.exists(Path.of("/proc/driver/nvidia"))) {
      throw new Unavailable("no NVIDIA GPU " + index + " or driver on this machine (no /dev/nvidia" + index
          + ", no /proc/driver/nvidia)");
    }
    List<String> missing = new ArrayList<>();
    for (String lib : CUDA_LIBRARIES) {
      if (!libraryPresent(lib)) {
        missing.add(lib);
      }
    }
    if (!missing.isEmpty()) {
      throw new Unavailable("the CUDA 12 runtime and cuDNN 9 that ONNX Runtime's CUDA provider needs are not all on "
          + "the library path: missing " + String.join(", ", missing) + " (LD_LIBRARY_PATH="
          + System.getenv().getOrDefault("LD_LIBRARY_PATH", "") + ")");
    }
    run(true, index);
    return "CUDA:" + index;
  }

  private static void run(boolean cuda, int index) throws Unavailable {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      if (cuda) {
        options.addCUDA(index);
      }
      try (OrtSession session = env.createSession(TinyOnnx.identity(8, 8), options);
           OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.allocate(3 * 8 * 8), new long[] {1, 3, 8, 8});
           OrtSession.Result ignored = session.run(Map.of("x", x))) {
        // it ran
      }
    } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
      String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst()
          .orElse("");
      throw new Unavailable((cuda ? "ONNX Runtime's CUDA provider could not run on GPU " + index
          : "ONNX Runtime could not run on the CPU") + ": " + message);
    }
  }

  /** Whether the dynamic linker would find {@code name}: on LD_LIBRARY_PATH, in the usual CUDA folders, in ld.so's cache. */
  static boolean libraryPresent(String name) {
    List<String> dirs = new ArrayList<>();
    String ld = System.getenv("LD_LIBRARY_PATH");
    if (ld != null) {
      dirs.addAll(List.of(ld.split(":")));
    }
    dirs.addAll(List.of("/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
        "/usr/local/lib"));
    for (String d : dirs) {
      if (!d.isBlank() && Files.exists(Path.of(d, name))) {
        return true;
      }
    }
    try {
      Process p = new ProcessBuilder("ldconfig", "-p").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      p.waitFor();
      return out.contains(name);
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
