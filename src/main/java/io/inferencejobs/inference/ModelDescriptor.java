package io.inferencejobs.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * What the engine needs to know about a model: how to build its input and how to read its output.
 * {@link InferenceEngine#descriptor()} returns a complete one. One read from JSON (a sidecar file or an explicit
 * descriptor) may leave any field null: the engine then takes it from the model's metadata and shapes.
 *
 * <p>JSON form (every field optional):
 * <pre>{@code
 * {
 *   "task": "detect",
 *   "input":  {"name": "images", "layout": "NHWC", "width": 512, "height": 512, "pixel_range": 255,
 *              "channel_order": "RGB", "mean": [0,0,0], "std": [1,1,1], "resize": "stretch", "pad_value": 114},
 *   "output": {"name": "detections", "layout": "end2end"},
 *   "names":  ["person", "bicycle", ...]          (or {"0": "person", ...})
 * }
 * }</pre>
 *
 * @param inputName    input tensor name
 * @param inputLayout  NCHW or NHWC
 * @param inputWidth   input width in pixels
 * @param inputHeight  input height in pixels
 * @param pixelRange   the value a full-intensity pixel has in the tensor before mean/std: 1 (0..1) or 255 (0..255)
 * @param mean         per-channel mean subtracted after scaling (tensor channel order), null for none
 * @param std          per-channel divisor after the mean, null for none
 * @param channelOrder "RGB" or "BGR"
 * @param resize       letterbox or stretch
 * @param padValue     letterbox padding as an 8-bit pixel value (Ultralytics: 114)
 * @param classNames   class names by id
 * @param outputName   the output tensor to decode
 * @param outputLayout how to decode it
 * @param task         "detect" or "classify"
 * @param dynamicBatch whether the batch axis is dynamic (read from the model, ignored in JSON)
 */
public record ModelDescriptor(String inputName, InputLayout inputLayout, Integer inputWidth, Integer inputHeight,
                              Float pixelRange, float[] mean, float[] std, String channelOrder, ResizeMode resize,
                              Integer padValue, List<String> classNames, String outputName, OutputLayout outputLayout,
                              String task, Boolean dynamicBatch) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public ModelDescriptor {
    classNames = classNames == null ? null : List.copyOf(classNames);
    if (mean != null && mean.length != 3 || std != null && std.length != 3) {
      throw new IllegalArgumentException("mean and std need one value per channel (3)");
    }
    if (channelOrder != null && !channelOrder.equalsIgnoreCase("RGB") && !channelOrder.equalsIgnoreCase("BGR")) {
      throw new IllegalArgumentException("channel_order must be RGB or BGR, got '" + channelOrder + "'");
    }
  }

  /** A descriptor with every field unknown. */
  public static ModelDescriptor empty() {
    return new ModelDescriptor(null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null);
  }

  public int numClasses() {
    return classNames == null ? -1 : classNames.size();
  }

  /** Parses the JSON form; a clear {@link IllegalArgumentException} names the bad field. */
  public static ModelDescriptor fromJson(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("descriptor is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("descriptor must be a JSON object");
    }
    JsonNode in = root.path("input");
    JsonNode out = root.path("output");
    return new ModelDescriptor(
        text(in, "name"),
        text(in, "layout") == null ? null : InputLayout.parse(text(in, "layout")),
        integer(in, "width"),
        integer(in, "height"),
        in.hasNonNull("pixel_range") ? (float) in.get("pixel_range").asDouble() : null,
        floats(in, "mean"),
        floats(in, "std"),
        text(in, "channel_order"),
        text(in, "resize") == null ? null : ResizeMode.parse(text(in, "resize")),
        integer(in, "pad_value"),
        names(root.get("names")),
        text(out, "name"),
        text(out, "layout") == null ? null : OutputLayout.parse(text(out, "layout")),
        text(root, "task"),
        null);
  }

  public String toJson() {
    ObjectNode root = JSON.createObjectNode();
    if (task != null) {
      root.put("task", task);
    }
    ObjectNode in = root.putObject("input");
    putIfSet(in, "name", inputName);
    putIfSet(in, "layout", inputLayout == null ? null : inputLayout.name());
    if (inputWidth != null) {
      in.put("width", inputWidth);
    }
    if (inputHeight != null) {
      in.put("height", inputHeight);
    }
    if (pixelRange != null) {
      in.put("pixel_range", pixelRange);
    }
    putFloats(in, "mean", mean);
    putFloats(in, "std", std);
    putIfSet(in, "channel_order", channelOrder);
    putIfSet(in, "resize", resize == null ? null : resize.name().toLowerCase(java.util.Locale.ROOT));
    if (padValue != null) {
      in.put("pad_value", padValue);
    }
    ObjectNode o = root.putObject("output");
    putIfSet(o, "name", outputName);
    putIfSet(o, "layout", outputLayout == null ? null : outputLayout.id());
    if (classNames != null) {
      ArrayNode names = root.putArray("names");
      classNames.forEach(names::add);
    }
    return root.toString();
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Integer integer(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.canConvertToInt()) {
      throw new IllegalArgumentException("descriptor field '" + field + "' must be an integer, got " + v);
    }
    return v.asInt();
  }

  private static float[] floats(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isArray() || v.size() != 3) {
      throw new IllegalArgumentException("descriptor field '" + field + "' must be an array of 3 numbers");
    }
    return new float[] {(float) v.get(0).asDouble(), (float) v.get(1).asDouble(), (float) v.get(2).asDouble()};
  }

  private static List<String> names(JsonNode v) {
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isArray()) {
      List<String> names = new ArrayList<>();
      v.forEach(n -> names.add(n.asText()));
      return names;
    }
    if (v.isObject()) {
      int max = -1;
      for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
        max = Math.max(max, index(it.next()));
      }
      List<String> names = new ArrayList<>();
      for (int i = 0; i <= max; i++) {
        names.add("class_" + i);
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        names.set(index(e.getKey()), e.getValue().asText());
      }
      return names;
    }
    if (v.isTextual()) { // a Python literal copied from metadata
      return PythonLiteral.names(v.asText());
    }
    throw new IllegalArgumentException("descriptor field 'names' must be a list or an object {\"0\": name}");
  }

  private static int index(String key) {
    try {
      return Integer.parseInt(key.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("descriptor 'names' keys must be class ids, got '" + key + "'");
    }
  }

  private static void putIfSet(ObjectNode node, String field, String value) {
    if (value != null) {
      node.put(field, value);
    }
  }

  private static void putFloats(ObjectNode node, String field, float[] values) {
    if (values != null) {
      ArrayNode a = node.putArray(field);
      for (float f : values) {
        a.add(f);
      }
    }
  }
}
