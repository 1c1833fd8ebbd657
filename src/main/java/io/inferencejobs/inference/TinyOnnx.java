package io.inferencejobs.inference;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes tiny ONNX models (protobuf, by hand): one node from a float image input [1,3,h,w] to one output. A worker
 * runs one on its device at start ({@link DeviceProbe}); the tests use them as models the engine cannot or can read.
 * Field numbers follow onnx.proto: ModelProto ir_version=1, graph=7, opset_import=8; GraphProto node=1, name=2,
 * input=11, output=12; NodeProto input=1, output=2, op_type=4, attribute=5; ValueInfoProto name=1, type=2;
 * TypeProto tensor_type=1; Tensor elem_type=1, shape=2; TensorShapeProto dim=1; Dimension dim_value=1.
 */
public final class TinyOnnx {

  private TinyOnnx() {
  }

  /** Identity: the output has the input's shape [1,3,h,w], which no detection layout fits. */
  public static byte[] identity(int h, int w) {
    byte[] node = concat(str(1, "x"), str(2, "y"), str(4, "Identity"));
    return model(node, valueInfo("x", 1, 3, h, w), valueInfo("y", 1, 3, h, w));
  }

  /** ReduceMean over H and W: output [1,3], the mean of each channel, read as a 3-class classifier. */
  public static byte[] channelMeans(int h, int w) {
    byte[] axes = concat(str(1, "axes"), varintField(20, 7), varintField(8, 2), varintField(8, 3));
    byte[] keepdims = concat(str(1, "keepdims"), varintField(20, 2), varintField(3, 0));
    byte[] node = concat(str(1, "x"), str(2, "y"), str(4, "ReduceMean"), msg(5, axes), msg(5, keepdims));
    return model(node, valueInfo("x", 1, 3, h, w), valueInfo("y", 1, 3));
  }

  /**
   * A model whose output {@code y} is always {@code values} (shape {@code dims}), whatever the image; with
   * {@code metadata} as its custom metadata. The tests build decoders' inputs with it (an OBB layout, for one).
   */
  public static byte[] constant(int h, int w, long[] dims, float[] values, java.util.Map<String, String> metadata) {
    return constants(h, w, java.util.Map.of("y", new Constant(dims, values)), metadata);
  }

  /** A fixed tensor: its shape and its values, row-major. */
  public record Constant(long[] dims, float[] values) {
  }

  /** As {@link #constant}, with one output per entry, in the map's order. */
  public static byte[] constants(int h, int w, java.util.Map<String, Constant> outputs,
                                 java.util.Map<String, String> metadata) {
    ByteArrayOutputStream nodes = new ByteArrayOutputStream();
    ByteArrayOutputStream infos = new ByteArrayOutputStream();
    outputs.forEach((name, c) -> {
      java.nio.ByteBuffer raw = java.nio.ByteBuffer.allocate(c.values().length * 4)
          .order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (float v : c.values()) {
        raw.putFloat(v);
      }
      ByteArrayOutputStream tensor = new ByteArrayOutputStream();
      for (long d : c.dims()) {
        tensor.writeBytes(varintField(1, d));
      }
      tensor.writeBytes(varintField(2, 1)); // FLOAT
      tensor.writeBytes(msg(9, raw.array())); // raw_data
      byte[] value = concat(str(1, "value"), varintField(20, 4), msg(5, tensor.toByteArray())); // type TENSOR, t
      nodes.writeBytes(msg(1, concat(str(2, name), str(4, "Constant"), msg(5, value))));
      infos.writeBytes(msg(12, valueInfo(name, c.dims())));
    });
    byte[] graph = concat(nodes.toByteArray(), str(2, "g"), msg(11, valueInfo("x", 1, 3, h, w)), infos.toByteArray());
    ByteArrayOutputStream meta = new ByteArrayOutputStream();
    metadata.forEach((k, v) -> meta.writeBytes(msg(14, concat(str(1, k), str(2, v))))); // metadata_props
    return concat(model(graph), meta.toByteArray());
  }

  private static byte[] model(byte[] node, byte[] input, byte[] output) {
    return model(concat(msg(1, node), str(2, "g"), msg(11, input), msg(12, output)));
  }

  private static byte[] model(byte[] graph) {
    byte[] opset = concat(str(1, ""), varintField(2, 13));
    return concat(varintField(1, 7), msg(7, graph), msg(8, opset));
  }

  private static byte[] valueInfo(String name, long... dims) {
    ByteArrayOutputStream shape = new ByteArrayOutputStream();
    for (long d : dims) {
      shape.writeBytes(msg(1, varintField(1, d)));
    }
    byte[] tensor = concat(varintField(1, 1), msg(2, shape.toByteArray()));
    return concat(str(1, name), msg(2, msg(1, tensor)));
  }

  private static byte[] str(int field, String s) {
    return msg(field, s.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] msg(int field, byte[] body) {
    return concat(varint((long) field << 3 | 2), varint(body.length), body);
  }

  private static byte[] varintField(int field, long value) {
    return concat(varint((long) field << 3), varint(value));
  }

  private static byte[] varint(long v) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while ((v & ~0x7FL) != 0) {
      out.write((int) ((v & 0x7F) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
    return out.toByteArray();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
