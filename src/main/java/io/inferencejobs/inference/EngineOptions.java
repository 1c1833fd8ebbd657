package io.inferencejobs.inference;

/**
 * How an {@link InferenceEngine} runs.
 *
 * @param device         {@code auto}, {@code cpu} or {@code cuda:N}; {@code auto} uses CUDA only when a GPU device node exists
 * @param intraOpThreads ONNX Runtime intra-op threads, 0 for its default (one per core)
 * @param interOpThreads ONNX Runtime inter-op threads, 0 for its default
 * @param batchSize      images per {@code session.run} when the model's batch axis is dynamic
 * @param maxPixels      largest width x height accepted, checked from the image header before decoding
 * @param jpegDecoder    {@code auto} (libjpeg-turbo when installed, else ImageIO), {@code turbojpeg} (required: loading
 *                       fails without it) or {@code imageio}
 */
public record EngineOptions(String device, int intraOpThreads, int interOpThreads, int batchSize, long maxPixels,
                            String jpegDecoder) {

  public static final java.util.List<String> JPEG_DECODERS = java.util.List.of("auto", "turbojpeg", "imageio");

  public EngineOptions(String device, int intraOpThreads, int interOpThreads, int batchSize, long maxPixels) {
    this(device, intraOpThreads, interOpThreads, batchSize, maxPixels, "auto");
  }

  public EngineOptions {
    jpegDecoder = jpegDecoder == null || jpegDecoder.isBlank() ? "auto"
        : jpegDecoder.trim().toLowerCase(java.util.Locale.ROOT);
    if (!JPEG_DECODERS.contains(jpegDecoder)) {
      throw new IllegalArgumentException("jpegDecoder must be auto, turbojpeg or imageio, got '" + jpegDecoder + "'");
    }
    device = device == null || device.isBlank() ? "auto" : device.trim().toLowerCase(java.util.Locale.ROOT);
    if (!device.equals("auto") && !device.equals("cpu") && !device.matches("cuda(:\\d+)?")) {
      throw new IllegalArgumentException("device must be auto, cpu or cuda:N, got '" + device + "'");
    }
    if (intraOpThreads < 0 || interOpThreads < 0) {
      throw new IllegalArgumentException("thread counts must be 0 (default) or positive");
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
    }
    if (maxPixels < 1) {
      throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
    }
  }

  public static EngineOptions defaults() {
    return new EngineOptions("auto", 0, 0, 8, 100_000_000L);
  }

  public EngineOptions withDevice(String newDevice) {
    return new EngineOptions(newDevice, intraOpThreads, interOpThreads, batchSize, maxPixels, jpegDecoder);
  }

  public EngineOptions withThreads(int intraOp, int interOp) {
    return new EngineOptions(device, intraOp, interOp, batchSize, maxPixels, jpegDecoder);
  }

  public EngineOptions withBatchSize(int newBatchSize) {
    return new EngineOptions(device, intraOpThreads, interOpThreads, newBatchSize, maxPixels, jpegDecoder);
  }

  public EngineOptions withMaxPixels(long newMaxPixels) {
    return new EngineOptions(device, intraOpThreads, interOpThreads, batchSize, newMaxPixels, jpegDecoder);
  }

  public EngineOptions withJpegDecoder(String decoder) {
    return new EngineOptions(device, intraOpThreads, interOpThreads, batchSize, maxPixels, decoder);
  }
}
