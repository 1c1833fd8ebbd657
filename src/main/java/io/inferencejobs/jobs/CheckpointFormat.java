package io.inferencejobs.jobs;

/**
 * Tells an ONNX model from what users often send instead, from its first bytes: a PyTorch checkpoint ({@code best.pt},
 * a zip archive or a pickle) gets the command that exports it. An ONNX file is a protobuf ModelProto whose first
 * field is {@code ir_version} (tag byte 0x08); whether the engine can read it is for a worker to find out.
 */
public final class CheckpointFormat {
  public static final int HEAD_BYTES = 8;
  public static final String EXPORT = "export it to ONNX first, for example: yolo export model=best.pt format=onnx";

  private CheckpointFormat() {
  }

  /** Why {@code head} (the file's first bytes) is no ONNX model; null when it may be one. */
  public static String problem(byte[] head) {
    if (head.length == 0) {
      return "the file is empty";
    }
    if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
      return "this is a PyTorch checkpoint (a zip archive, as torch.save writes), not an ONNX model; " + EXPORT;
    }
    if (head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5) {
      return "this is a pickled PyTorch checkpoint, not an ONNX model; " + EXPORT;
    }
    if (head[0] != 0x08) {
      return "this is not an ONNX model (an ONNX file starts with its ir_version field); " + EXPORT;
    }
    return null;
  }
}
