package io.inferencejobs.inference;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/** Builds the complete descriptor of a model from an explicit descriptor, its metadata and its IO shapes. */
final class ModelInspector {

  static final int DEFAULT_SIZE = 640;
  static final int DEFAULT_PAD = 114;

  /**
   * @param protoOutput the prototypes output of a segment model (else null)
   * @param keypoints   keypoints per pose and values per keypoint (2 or 3) of a pose model (else null)
   */
  record Resolved(ModelDescriptor descriptor, int fixedBatch, String protoOutput, int[] keypoints) {
  }

  private ModelInspector() {
  }

  static Resolved resolve(OrtSession session, ModelDescriptor explicit) throws ModelException {
    Map<String, String> meta;
    Map<String, NodeInfo> inputs;
    Map<String, NodeInfo> outputs;
    try {
      meta = session.getMetadata().getCustomMetadata();
      inputs = session.getInputInfo();
      outputs = session.getOutputInfo();
    } catch (OrtException e) {
      throw new ModelException("Cannot read the model's metadata or IO: " + e.getMessage(), e);
    }
    if (meta == null) {
      meta = Collections.emptyMap();
    }

    // Input
    String inputName = explicit.inputName();
    if (inputName == null) {
      if (inputs.size() != 1) {
        throw new ModelException("The model has " + inputs.size() + " inputs " + inputs.keySet()
            + "; name the image input in the descriptor (input.name).");
      }
      inputName = inputs.keySet().iterator().next();
    }
    NodeInfo inputNode = inputs.get(inputName);
    if (inputNode == null) {
      throw new ModelException("The model has no input '" + inputName + "'; its inputs are " + inputs.keySet() + ".");
    }
    TensorInfo in = inputNode.getInfo() instanceof TensorInfo t ? t : null;
    if (in == null || in.type != OnnxJavaType.FLOAT || in.getShape().length != 4) {
      throw new ModelException("Input '" + inputName + "' is " + inputNode.getInfo()
          + "; the engine needs a float32 image tensor of rank 4 (NCHW or NHWC).");
    }
    long[] inShape = in.getShape();
    InputLayout layout = explicit.inputLayout();
    if (layout == null) {
      if (inShape[1] == 3) {
        layout = InputLayout.NCHW;
      } else if (inShape[3] == 3) {
        layout = InputLayout.NHWC;
      } else {
        throw new ModelException("Input '" + inputName + "' has shape " + OutputLayout.describe(inShape)
            + "; expected 3 colour channels as [N,3,H,W] or [N,H,W,3] (set input.layout in a descriptor).");
      }
    }
    int channelAxis = layout == InputLayout.NCHW ? 1 : 3;
    if (inShape[channelAxis] > 0 && inShape[channelAxis] != 3) {
      throw new ModelException("Input '" + inputName + "' has shape " + OutputLayout.describe(inShape) + " in "
          + layout + " layout: " + inShape[channelAxis] + " channels, the engine feeds 3 (RGB or BGR).");
    }
    int hAxis = layout == InputLayout.NCHW ? 2 : 1;
    int[] metaSize = null;
    if (meta.containsKey("imgsz")) {
      try {
        metaSize = PythonLiteral.imageSize(meta.get("imgsz"));
      } catch (IllegalArgumentException e) {
        throw new ModelException("Model metadata 'imgsz' cannot be read: " + e.getMessage(), e);
      }
    }
    int height = size("height", inShape[hAxis], explicit.inputHeight(), metaSize == null ? null : metaSize[0]);
    int width = size("width", inShape[hAxis + 1], explicit.inputWidth(), metaSize == null ? null : metaSize[1]);
    int fixedBatch = inShape[0] > 0 ? (int) inShape[0] : 0;

    // Names, task
    List<String> names = explicit.classNames();
    if (names == null && meta.containsKey("names")) {
      try {
        names = PythonLiteral.names(meta.get("names"));
      } catch (IllegalArgumentException e) {
        throw new ModelException("Model metadata 'names' cannot be read: " + e.getMessage(), e);
      }
    }
    String task = explicit.task() != null ? explicit.task() : meta.get("task");
    Boolean end2end = null;
    if (meta.containsKey("end2end")) {
      try {
        end2end = PythonLiteral.bool(meta.get("end2end"));
      } catch (IllegalArgumentException e) {
        throw new ModelException("Model metadata 'end2end' cannot be read: " + e.getMessage(), e);
      }
    }
    int nc = names == null ? -1 : names.size();
    int extraValues = extraValues(task, meta, outputs);

    // Output
    String outputName = explicit.outputName();
    OutputLayout outLayout = explicit.outputLayout();
    long[] outShape;
    if (outputName != null) {
      NodeInfo node = outputs.get(outputName);
      if (node == null) {
        throw new ModelException("The model has no output '" + outputName + "'; its outputs are "
            + shapes(outputs) + ".");
      }
      outShape = shapeOf(node);
      if (outLayout == null && known(outShape)) {
        outLayout = OutputLayout.detect(outShape, nc, end2end, task, extraValues);
        if (outLayout == null) {
          throw new ModelException(unsupported(outputName, outShape));
        }
      }
    } else {
      for (Map.Entry<String, NodeInfo> e : outputs.entrySet()) { // first output that fits, in model order
        long[] s = shapeOf(e.getValue());
        OutputLayout l = outLayout != null ? outLayout
            : s != null && known(s) ? OutputLayout.detect(s, nc, end2end, task, extraValues) : null;
        if (l != null || (outputs.size() == 1 && s != null)) {
          outputName = e.getKey();
          outLayout = l;
          break;
        }
      }
      if (outputName == null || (outLayout == null && known(shapeOf(outputs.get(outputName))))) {
        throw new ModelException("No output of the model has a layout the engine reads: found " + shapes(outputs)
            + "; supported: " + OutputLayout.SUPPORTED + ". A descriptor can name the output and its layout.");
      }
      outShape = shapeOf(outputs.get(outputName));
    }
    if (outShape == null) {
      throw new ModelException("Output '" + outputName + "' is not a tensor; supported: " + OutputLayout.SUPPORTED);
    }
    if (outLayout != null && known(outShape) && !fits(outLayout, outShape)) {
      throw new ModelException("Output '" + outputName + "' has shape " + OutputLayout.describe(outShape)
          + ", which does not fit the " + outLayout.id() + " layout; supported: " + OutputLayout.SUPPORTED + ".");
    }
    if (fixedBatch > 0 && outShape[0] > 0 && outShape[0] != fixedBatch) {
      throw new ModelException("Output '" + outputName + "' has batch " + outShape[0] + " but the input has "
          + fixedBatch + ".");
    }

    // Class names: fill in what metadata and descriptor did not give
    int modelClasses = classesOf(outLayout, outShape);
    List<String> fullNames = new ArrayList<>(names == null ? List.of() : names);
    for (int i = fullNames.size(); i < modelClasses; i++) {
      fullNames.add("class_" + i);
    }
    if (task == null) {
      task = outLayout == null ? "detect" : outLayout.task();
    }

    // Segment and pose: the prototypes output, the keypoint shape, and what is left for the classes
    String protoOutput = null;
    int[] kpt = null;
    boolean e2e = outLayout != null && outLayout.endToEnd();
    if (outLayout != null && outLayout.segment()) {
      for (Map.Entry<String, NodeInfo> e : outputs.entrySet()) {
        long[] s = shapeOf(e.getValue());
        if (!e.getKey().equals(outputName) && s != null && s.length == 4) {
          protoOutput = e.getKey();
        }
      }
      if (protoOutput == null) {
        throw new ModelException("The segmentation model has no prototype output [N,nm,H,W] beside '" + outputName
            + "'; found " + shapes(outputs) + ". A YOLOv8-seg export has output0 [N,4+nc+nm,A] and output1 "
            + "[N,nm,H/4,W/4].");
      }
      long[] ps = shapeOf(outputs.get(protoOutput));
      int extra = (int) ps[1];
      if (e2e && known(outShape) && outShape[2] != 6 + extra) {
        throw new ModelException("Output '" + outputName + "' has shape " + OutputLayout.describe(outShape)
            + " but the prototypes " + OutputLayout.describe(ps) + " need " + extra + " mask coefficients: an "
            + "end-to-end segment output has 6 + " + extra + " = " + (6 + extra) + " columns (x1, y1, x2, y2, "
            + "score, class, coefficients).");
      }
      if (!e2e && known(outShape) && outShape[1] - 4 - extra < 1) {
        throw new ModelException("Output '" + outputName + "' has shape " + OutputLayout.describe(outShape)
            + " but the prototypes " + OutputLayout.describe(ps) + " need " + extra + " mask coefficients after "
            + "the box: no row is left for a class.");
      }
      modelClasses = known(outShape) && !e2e ? (int) outShape[1] - 4 - extra : 0;
      kpt = new int[] {0, extra};
    } else if (outLayout != null && outLayout.pose()) {
      if (meta.containsKey("kpt_shape")) {
        try {
          kpt = PythonLiteral.imageSize(meta.get("kpt_shape"));
        } catch (IllegalArgumentException e) {
          throw new ModelException("Model metadata 'kpt_shape' cannot be read: " + e.getMessage(), e);
        }
      } else if ((nc > 0 || e2e) && known(outShape)) {
        long rest = e2e ? outShape[2] - 6 : outShape[1] - 4 - nc;
        kpt = rest % 3 == 0 ? new int[] {(int) rest / 3, 3} : new int[] {(int) rest / 2, 2};
      } else {
        throw new ModelException("The pose model gives no 'kpt_shape' in its metadata and no class names: the "
            + "keypoint count cannot be told from " + OutputLayout.describe(outShape) + ".");
      }
      if (kpt[1] != 2 && kpt[1] != 3) {
        throw new ModelException("Model metadata 'kpt_shape' is [" + kpt[0] + ", " + kpt[1] + "]; each keypoint "
            + "must have 2 (x, y) or 3 (x, y, score) values.");
      }
      if (e2e && known(outShape) && outShape[2] != 6 + (long) kpt[0] * kpt[1]) {
        throw new ModelException("The pose model's output '" + outputName + "' has " + outShape[2] + " columns, "
            + "which does not fit 6 columns (x1, y1, x2, y2, score, class) + kpt_shape [" + kpt[0] + ", " + kpt[1]
            + "] = " + (6 + kpt[0] * kpt[1]) + " columns.");
      }
      if (!e2e && known(outShape)) {
        long classes = outShape[1] - 4 - (long) kpt[0] * kpt[1];
        if (classes < 1 || (nc > 0 && classes != nc)) {
          throw new ModelException("The pose model's output '" + outputName + "' has " + outShape[1] + " rows, "
              + "which does not fit 4 box rows + " + (nc > 0 ? nc : "at least 1") + " class rows + kpt_shape ["
              + kpt[0] + ", " + kpt[1] + "] = " + (4 + Math.max(nc, 1) + kpt[0] * kpt[1]) + " rows.");
        }
        modelClasses = (int) classes;
      }
    }
    for (int i = fullNames.size(); i < modelClasses; i++) {
      fullNames.add("class_" + i);
    }

    ModelDescriptor d = new ModelDescriptor(inputName, layout, width, height,
        explicit.pixelRange() != null ? explicit.pixelRange() : 1f,
        explicit.mean(), explicit.std(),
        explicit.channelOrder() != null ? explicit.channelOrder().toUpperCase(java.util.Locale.ROOT) : "RGB",
        explicit.resize() != null ? explicit.resize() : ResizeMode.LETTERBOX,
        explicit.padValue() != null ? explicit.padValue() : DEFAULT_PAD,
        fullNames, outputName, outLayout, task, fixedBatch == 0);
    return new Resolved(d, fixedBatch, protoOutput,
        outLayout != null && (outLayout.pose() || outLayout.segment()) ? kpt : null);
  }

  /**
   * What each object has after its class, as far as can be told before the layout is known: the prototypes'
   * coefficient count for a segment model, kpt_shape's values for a pose model (-1 when not told; a bad kpt_shape
   * is reported later, once the layout is known).
   */
  private static int extraValues(String task, Map<String, String> meta, Map<String, NodeInfo> outputs) {
    if ("segment".equals(task)) {
      for (NodeInfo node : outputs.values()) {
        long[] s = shapeOf(node);
        if (s != null && s.length == 4 && s[1] > 0) {
          return (int) s[1];
        }
      }
    } else if ("pose".equals(task) && meta.containsKey("kpt_shape")) {
      try {
        int[] k = PythonLiteral.imageSize(meta.get("kpt_shape"));
        return k[0] * k[1];
      } catch (IllegalArgumentException e) {
        return -1;
      }
    }
    return -1;
  }

  static String unsupported(String outputName, long[] shape) {
    return "Output '" + outputName + "' has shape " + OutputLayout.describe(shape)
        + ", which fits no supported layout: " + OutputLayout.SUPPORTED
        + ". A descriptor can name another output or the layout.";
  }

  private static int size(String what, long fromShape, Integer fromDescriptor, Integer fromMeta)
      throws ModelException {
    if (fromShape > 0) {
      if (fromDescriptor != null && fromDescriptor != fromShape) {
        throw new ModelException("The descriptor says input " + what + " " + fromDescriptor + " but the model's input "
            + what + " is fixed at " + fromShape + ".");
      }
      return (int) fromShape;
    }
    if (fromDescriptor != null) {
      return fromDescriptor;
    }
    return fromMeta != null ? fromMeta : DEFAULT_SIZE;
  }

  private static long[] shapeOf(NodeInfo node) {
    return node != null && node.getInfo() instanceof TensorInfo t ? t.getShape() : null;
  }

  private static boolean known(long[] shape) {
    if (shape == null) {
      return false;
    }
    for (int i = 1; i < shape.length; i++) {
      if (shape[i] <= 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean fits(OutputLayout layout, long[] s) {
    return switch (layout) {
      case YOLOV8 -> s.length == 3 && s[1] > 4;
      case YOLOV5 -> s.length == 3 && s[2] > 5;
      case END2END -> s.length == 3 && s[2] >= 6;
      case CLASSIFICATION -> s.length == 2 && s[1] > 0;
      case SEGMENT, POSE -> s.length == 3 && s[1] > 4;
      case OBB -> s.length == 3 && s[1] > 5;
      case SEGMENT_E2E, POSE_E2E -> s.length == 3 && s[2] > 6;
      case OBB_E2E -> s.length == 3 && s[2] == 7;
    };
  }

  private static int classesOf(OutputLayout layout, long[] s) {
    if (layout == null || !known(s)) {
      return 0;
    }
    return switch (layout) {
      case YOLOV8 -> (int) s[1] - 4;
      case YOLOV5 -> (int) s[2] - 5;
      case END2END -> 0;
      case CLASSIFICATION -> (int) s[1];
      case SEGMENT, POSE -> 0; // set from the prototypes or the keypoint shape
      case OBB -> (int) s[1] - 5;
      case SEGMENT_E2E, POSE_E2E, OBB_E2E -> 0; // the class is a column: names come from the metadata
    };
  }

  private static String shapes(Map<String, NodeInfo> outputs) {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, NodeInfo> e : outputs.entrySet()) {
      long[] s = shapeOf(e.getValue());
      parts.add(e.getKey() + " " + (s == null ? e.getValue().getInfo().toString() : OutputLayout.describe(s)));
    }
    return String.join(", ", parts);
  }
}
