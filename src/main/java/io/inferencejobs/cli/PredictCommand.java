package io.inferencejobs.cli;

import io.inferencejobs.jobs.InferenceSettings;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.inferencejobs.inference.Annotator;
import io.inferencejobs.inference.DetectionParams;
import io.inferencejobs.inference.ImageException;
import io.inferencejobs.inference.Detection;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.ImageResult;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.ModelDescriptor;
import io.inferencejobs.inference.ModelException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code predict --model FILE --image FILE|FOLDER|GLOB... [--conf 0.25] [--iou 0.45] [--max-det 100] [--device auto]
 * [--descriptor FILE] [--agnostic] [--json] [--save DIR]}: runs a model on image files and prints the detections;
 * with {@code --save} it also writes each image with its detections drawn to DIR. A folder means the image files
 * in it (not its subfolders); a glob ({@code photos/*.jpg}, {@code data/**}{@code /*.png}) is matched here, for
 * shells that pass it quoted. Images are read and run a chunk at a time, so a folder of any size fits in memory.
 * Exit 0 when every image was processed, 1 when some could not be, 2 for bad arguments or an unusable model.
 */
public final class PredictCommand {

  private static final String USAGE = "usage: predict --model FILE --image FILE... [--conf 0.25] [--iou 0.45] "
      + "[--max-det 100] [--device auto|cpu|cuda:N] [--descriptor FILE] [--agnostic] [--json] [--save DIR]\n"
      + "  --image takes files, folders (their image files) and globs such as 'photos/*.jpg' or 'data/**/*.png'";
  /** Images read and run at once. */
  private static final int CHUNK = 32;

  private PredictCommand() {
  }

  public static int run(String[] args) {
    return run(args, CliOutput.takeStdout(), System.err);
  }

  static int run(String[] argv, PrintStream out, PrintStream err) {
    Args args;
    DetectionParams params;
    EngineOptions options;
    List<String> images;
    try {
      args = Args.parse(argv, Set.of("json", "agnostic", "help"),
          Set.of("model", "image", "conf", "iou", "max-det", "device", "descriptor", "batch", "threads", "save"));
      if (args.flag("help")) {
        out.println(USAGE);
        return 0;
      }
      images = args.all("image");
      if (args.get("model", null) == null || images.isEmpty()) {
        throw new IllegalArgumentException("--model and at least one --image are required");
      }
      InferenceSettings d = InferenceSettings.DEFAULTS;
      params = new DetectionParams(args.getFloat("conf", (float) d.confidenceThreshold()),
          args.getFloat("iou", (float) d.iouThreshold()), args.getInt("max-det", d.maxDetections()), null,
          args.flag("agnostic"));
      options = new EngineOptions(args.get("device", "auto"), args.getInt("threads", 0), 0,
          args.getInt("batch", 8), EngineOptions.defaults().maxPixels());
    } catch (IllegalArgumentException e) {
      err.println("predict: " + e.getMessage());
      err.println(USAGE);
      return 2;
    }

    Path save = args.get("save", null) == null ? null : Path.of(args.get("save", null));
    if (save != null) {
      try {
        Files.createDirectories(save);
      } catch (IOException e) {
        err.println("predict: --save " + save + " is not a folder that can be written: " + e.getMessage());
        return 2;
      }
    }
    List<String> files = new ArrayList<>();
    int failed = 0;
    for (String image : images) {
      try {
        files.addAll(ImageFiles.expand(image));
      } catch (IllegalArgumentException | IOException e) {
        failed++;
        err.println(image + ": " + e.getMessage());
      }
    }

    try (InferenceEngine engine = open(Path.of(args.get("model", null)), args.get("descriptor", null), options)) {
      ObjectMapper json = new ObjectMapper();
      ArrayNode all = json.createArrayNode();
      Set<String> saved = new java.util.HashSet<>();
      for (int start = 0; start < files.size(); start += CHUNK) {
        List<String> chunk = files.subList(start, Math.min(files.size(), start + CHUNK));
        List<byte[]> data = new ArrayList<>(chunk.size());
        List<String> readErrors = new ArrayList<>(chunk.size());
        for (String image : chunk) {
          try {
            data.add(Files.readAllBytes(Path.of(image)));
            readErrors.add(null);
          } catch (NoSuchFileException e) {
            data.add(new byte[0]);
            readErrors.add("file not found");
          } catch (IOException e) {
            data.add(new byte[0]);
            readErrors.add("cannot read the file: " + e.getMessage());
          }
        }
        List<ImageResult> results = engine.predict(data, params);
        for (int i = 0; i < chunk.size(); i++) {
          ImageResult r = results.get(i);
          String error = readErrors.get(i) != null ? readErrors.get(i) : r.error();
          if (error == null && save != null) {
            error = save(save, saved, chunk.get(i), data.get(i), r, options.maxPixels());
          }
          if (error != null) {
            failed++;
            err.println(chunk.get(i) + ": " + error);
            continue;
          }
          if (args.flag("json")) {
            all.add(toJson(json, chunk.get(i), r));
          } else {
            printTable(out, chunk.get(i), r);
          }
        }
      }
      if (args.flag("json")) {
        out.println(all.toPrettyString());
      }
      return failed == 0 ? 0 : 1;
    } catch (ModelException e) {
      err.println("predict: " + e.getMessage());
      return 2;
    }
  }

  /** Writes {@code DIR/<name>.jpg} with the detections drawn (a number added when two inputs share a name). */
  private static String save(Path dir, Set<String> taken, String image, byte[] bytes, ImageResult r, long maxPixels) {
    String name = Path.of(image).getFileName().toString();
    int dot = name.lastIndexOf('.');
    String stem = dot > 0 ? name.substring(0, dot) : name;
    String file = stem + ".jpg";
    for (int n = 2; !taken.add(file); n++) {
      file = stem + "_" + n + ".jpg";
    }
    try {
      Files.write(dir.resolve(file), Annotator.annotate(bytes, r.detections(), maxPixels));
      return null;
    } catch (ImageException | IOException e) {
      return "cannot write the annotated image " + dir.resolve(file) + ": " + e.getMessage();
    }
  }

  private static InferenceEngine open(Path model, String descriptorFile, EngineOptions options) throws ModelException {
    if (descriptorFile == null) {
      return InferenceEngine.load(model, options);
    }
    ModelDescriptor descriptor;
    byte[] bytes;
    try {
      descriptor = ModelDescriptor.fromJson(Files.readString(Path.of(descriptorFile)));
      bytes = Files.readAllBytes(model);
    } catch (IOException | IllegalArgumentException e) {
      throw new ModelException("Cannot use " + descriptorFile + " with " + model + ": " + e.getMessage(), e);
    }
    return InferenceEngine.load(bytes, descriptor, options);
  }

  static ObjectNode toJson(ObjectMapper json, String image, ImageResult r) {
    ObjectNode o = json.createObjectNode();
    o.put("image", image);
    o.put("width", r.width());
    o.put("height", r.height());
    ArrayNode detections = o.putArray("detections");
    for (Detection d : r.detections()) {
      ObjectNode det = detections.addObject();
      det.put("class_id", d.classId());
      det.put("class_name", d.className());
      det.put("confidence", round(d.confidence(), 4));
      ObjectNode box = det.putObject("bbox");
      box.put("x1", round(d.bbox().x1(), 1));
      box.put("y1", round(d.bbox().y1(), 1));
      box.put("x2", round(d.bbox().x2(), 1));
      box.put("y2", round(d.bbox().y2(), 1));
      if (d.mask() != null) {
        ObjectNode mask = det.putObject("mask");
        mask.putArray("size").add(d.mask().height()).add(d.mask().width());
        mask.put("counts", d.mask().counts());
        det.put("area", d.mask().area());
      }
      if (d.obb() != null) {
        ObjectNode obb = det.putObject("obb");
        obb.put("cx", round(d.obb().cx(), 1)).put("cy", round(d.obb().cy(), 1)).put("w", round(d.obb().w(), 1))
            .put("h", round(d.obb().h(), 1)).put("angle", round(d.obb().angle(), 4));
        ArrayNode corners = obb.putArray("corners");
        for (int i = 0; i < 8; i += 2) {
          corners.addArray().add(round(d.obb().corners()[i], 1)).add(round(d.obb().corners()[i + 1], 1));
        }
      }
      if (d.keypoints() != null) {
        ArrayNode kps = det.putArray("keypoints");
        for (io.inferencejobs.inference.Keypoint k : d.keypoints()) {
          kps.addObject().put("name", k.name()).put("x", round(k.x(), 1)).put("y", round(k.y(), 1))
              .put("score", round(k.score(), 3));
        }
      }
    }
    return o;
  }

  private static void printTable(PrintStream out, String image, ImageResult r) {
    out.printf(Locale.ROOT, "%s (%dx%d): %d detection%s%n", image, r.width(), r.height(), r.detections().size(),
        r.detections().size() == 1 ? "" : "s");
    if (!r.detections().isEmpty()) {
      out.printf(Locale.ROOT, "  %-4s %-16s %6s  %7s %7s %7s %7s%n", "id", "class", "conf", "x1", "y1", "x2", "y2");
    }
    for (Detection d : r.detections()) {
      out.printf(Locale.ROOT, "  %-4d %-16s %6.3f  %7.1f %7.1f %7.1f %7.1f%n", d.classId(), d.className(),
          d.confidence(), d.bbox().x1(), d.bbox().y1(), d.bbox().x2(), d.bbox().y2());
    }
  }

  private static double round(float v, int decimals) {
    double f = Math.pow(10, decimals);
    return Math.round(v * f) / f;
  }

  /** The job defaults ({@code jobs.InferenceSettings}) as the engine takes them. */
  public static DetectionParams defaultParams() {
    InferenceSettings d = InferenceSettings.DEFAULTS;
    return new DetectionParams((float) d.confidenceThreshold(), (float) d.iouThreshold(), d.maxDetections(), null,
        d.agnosticNms());
  }
}
