package io.inferencejobs.inference;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Chooses the execution provider and opens the session, falling back from CUDA to CPU with one warning. */
final class Devices {

  private static final Logger LOG = LoggerFactory.getLogger(InferenceEngine.class);

  record Opened(OrtSession session, String provider) {
  }

  private Devices() {
  }

  /**
   * Whether an NVIDIA GPU is visible, from its device nodes alone. ONNX Runtime's provider list is no use here:
   * the GPU build lists CUDA on machines without one, and trying it costs seconds.
   */
  static boolean nvidiaGpuPresent() {
    return Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/proc/driver/nvidia"));
  }

  static Opened open(OrtEnvironment env, byte[] model, EngineOptions options) throws ModelException {
    String device = options.device();
    int cudaDevice = -1;
    if (device.startsWith("cuda")) {
      cudaDevice = device.contains(":") ? Integer.parseInt(device.substring(device.indexOf(':') + 1)) : 0;
    } else if (device.equals("auto") && nvidiaGpuPresent()) {
      cudaDevice = 0;
    }
    if (cudaDevice >= 0) {
      if (!nvidiaGpuPresent()) {
        LOG.warn("CUDA device {} requested but no NVIDIA GPU is present (no /dev/nvidia0); running on CPU",
            cudaDevice);
      } else {
        try {
          OrtSession.SessionOptions so = sessionOptions(options);
          so.addCUDA(cudaDevice);
          return new Opened(env.createSession(model, so), "CUDA:" + cudaDevice);
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
          LOG.warn("CUDA device {} could not be used ({}); running on CPU", cudaDevice, firstLine(e.getMessage()));
        }
      }
    }
    try {
      return new Opened(env.createSession(model, sessionOptions(options)), "CPU");
    } catch (OrtException e) {
      throw new ModelException("The model cannot be loaded; it is not a valid ONNX model (" + firstLine(e.getMessage())
          + ").", e);
    }
  }

  private static OrtSession.SessionOptions sessionOptions(EngineOptions options) throws OrtException {
    OrtSession.SessionOptions so = new OrtSession.SessionOptions();
    so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    if (options.intraOpThreads() > 0) {
      so.setIntraOpNumThreads(options.intraOpThreads());
    }
    if (options.interOpThreads() > 0) {
      so.setInterOpNumThreads(options.interOpThreads());
    }
    return so;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "no message";
    }
    int nl = message.indexOf('\n');
    return (nl < 0 ? message : message.substring(0, nl)).trim();
  }
}
