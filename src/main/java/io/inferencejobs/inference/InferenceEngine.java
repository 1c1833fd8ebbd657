package io.inferencejobs.inference;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ONNX model, ready to run on images. The session is built once and shared: {@link #prepare} may be called from
 * several threads while {@link #infer} runs on others.
 */
public final class InferenceEngine implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(InferenceEngine.class);
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final OrtEnvironment env;
  private final OrtSession session;
  private final ModelDescriptor descriptor;
  private final String provider;
  private final int batchSize;
  private final int fixedBatch;
  private final long maxPixels;
  /** JPEG through libjpeg-turbo (with DCT scaling) rather than ImageIO. */
  private final boolean turboJpeg;
  private final int imageFloats;
  private final boolean nchw;
  private final boolean bgr;
  private final float[] mul = new float[3];
  private final float[] add = new float[3];
  private final float[] pad = new float[3];
  private final Set<String> outputs;
  private final ConcurrentLinkedQueue<FloatBuffer> inputBuffers = new ConcurrentLinkedQueue<>();
  private final ExecutorService preparer;
  /** Tensors of images that predict() has finished with; reusing them avoids allocating megabytes per image. */
  private final ConcurrentLinkedQueue<float[]> spareTensors = new ConcurrentLinkedQueue<>();
  private final AtomicInteger spareCount = new AtomicInteger();
  private volatile OutputLayout layout;
  /** The prototypes output of a segment model, else null. */
  private final String protoOutput;
  /** Segment: {0, mask coefficients}; pose: {keypoints, values per keypoint}; else null. */
  private final int[] extra;
  private final List<String> keypointNames;

  private InferenceEngine(OrtEnvironment env, OrtSession session, ModelDescriptor descriptor, String provider,
                          EngineOptions options, int fixedBatch, String protoOutput, int[] extra) {
    this.env = env;
    this.session = session;
    this.descriptor = descriptor;
    this.provider = provider;
    this.fixedBatch = fixedBatch;
    this.batchSize = fixedBatch > 0 ? fixedBatch : options.batchSize();
    this.maxPixels = options.maxPixels();
    this.turboJpeg = usesTurboJpeg(options);
    this.imageFloats = 3 * descriptor.inputWidth() * descriptor.inputHeight();
    this.nchw = descriptor.inputLayout() == InputLayout.NCHW;
    this.bgr = "BGR".equalsIgnoreCase(descriptor.channelOrder());
    this.layout = descriptor.outputLayout();
    this.protoOutput = protoOutput;
    this.extra = extra;
    this.outputs = protoOutput == null ? Set.of(descriptor.outputName()) : Set.of(descriptor.outputName(), protoOutput);
    this.keypointNames = extra == null ? List.of() : Keypoints.names(extra[0]);
    float scale = descriptor.pixelRange() / 255f;
    for (int c = 0; c < 3; c++) {
      float mean = descriptor.mean() == null ? 0f : descriptor.mean()[c];
      float std = descriptor.std() == null ? 1f : descriptor.std()[c];
      mul[c] = scale / std;
      add[c] = -mean / std;
      pad[c] = descriptor.padValue() * mul[c] + add[c];
    }
    this.preparer = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "engine-prepare-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** Loads a model file; a sidecar descriptor {@code <base>.json} next to it is used when present. */
  public static InferenceEngine load(Path modelFile, EngineOptions options) throws ModelException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(modelFile);
    } catch (NoSuchFileException e) {
      throw new ModelException("Model file not found: " + modelFile);
    } catch (IOException e) {
      throw new ModelException("Cannot read model file " + modelFile + ": " + e.getMessage(), e);
    }
    String name = modelFile.getFileName().toString();
    int dot = name.lastIndexOf('.');
    Path sidecar = modelFile.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".json");
    ModelDescriptor explicit = null;
    if (Files.isRegularFile(sidecar)) {
      try {
        explicit = ModelDescriptor.fromJson(Files.readString(sidecar));
      } catch (IOException | IllegalArgumentException e) {
        throw new ModelException("Bad model descriptor " + sidecar + ": " + e.getMessage(), e);
      }
    }
    return load(bytes, explicit, options);
  }

  /** Loads a model from bytes; fields of {@code explicitDescriptorOrNull} override what the model says. */
  public static InferenceEngine load(byte[] model, ModelDescriptor explicitDescriptorOrNull, EngineOptions options)
      throws ModelException {
    if (model == null || model.length == 0) {
      throw new ModelException("The model is empty (0 bytes).");
    }
    EngineOptions opts = options == null ? EngineOptions.defaults() : options;
    jpegDecoderFor(opts);
    ModelDescriptor explicit = explicitDescriptorOrNull == null ? ModelDescriptor.empty() : explicitDescriptorOrNull;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Devices.Opened opened = Devices.open(env, model, opts);
    try {
      ModelInspector.Resolved resolved = ModelInspector.resolve(opened.session(), explicit);
      InferenceEngine engine = new InferenceEngine(env, opened.session(), resolved.descriptor(), opened.provider(),
          opts, resolved.fixedBatch(), resolved.protoOutput(), resolved.keypoints());
      LOG.info("Execution provider {}: {} input {} {}x{} {}, output {} ({}), batch {}", opened.provider(),
          resolved.descriptor().task(), resolved.descriptor().inputName(), resolved.descriptor().inputWidth(),
          resolved.descriptor().inputHeight(), resolved.descriptor().inputLayout(),
          resolved.descriptor().outputName(),
          engine.layout == null ? "layout from the first run" : engine.layout.id(), engine.batchSize);
      return engine;
    } catch (ModelException | RuntimeException e) {
      closeQuietly(opened.session());
      throw e;
    }
  }

  /** The complete descriptor: input layout, size, scale, resize, pad, class names, output and its layout, task. */
  public ModelDescriptor descriptor() {
    return descriptor;
  }

  /**
   * What decodes JPEG images with these options: "turbojpeg" or "imageio".
   *
   * @throws ModelException when turbojpeg is required and libturbojpeg cannot be loaded
   */
  public static String jpegDecoderFor(EngineOptions options) throws ModelException {
    if (options.jpegDecoder().equals("turbojpeg") && !TurboJpeg.available()) {
      throw new ModelException("The JPEG decoder is set to turbojpeg, but libturbojpeg cannot be loaded ("
          + TurboJpeg.loadError() + "); install it (Debian: libturbojpeg0) or set the decoder to auto.");
    }
    return usesTurboJpeg(options) ? "turbojpeg" : "imageio";
  }

  private static boolean usesTurboJpeg(EngineOptions options) {
    return !options.jpegDecoder().equals("imageio") && TurboJpeg.available();
  }

  /** "turbojpeg" or "imageio": what decodes JPEG images. */
  public String jpegDecoder() {
    return turboJpeg ? "turbojpeg" : "imageio";
  }

  /** "CPU" or "CUDA:N". */
  public String provider() {
    return provider;
  }

  /** Images per {@code session.run}: the configured batch, or the model's own when its batch axis is fixed. */
  public int batchSize() {
    return batchSize;
  }

  /** Decodes (with EXIF orientation) and converts one image into a model input. Thread-safe. */
  public PreparedImage prepare(byte[] encodedImage) throws ImageException {
    long t0 = System.nanoTime();
    ImageDecoder.Decoded decoded = ImageDecoder.decode(encodedImage, maxPixels, descriptor.resize(),
        descriptor.inputWidth(), descriptor.inputHeight(), turboJpeg);
    Pixels pixels = decoded.pixels();
    long t1 = System.nanoTime();
    // the geometry of the image itself: boxes map back to its size, while the resize reads the (maybe reduced) pixels
    ImageGeometry g = ImageGeometry.of(descriptor.resize(), decoded.width(), decoded.height(),
        descriptor.inputWidth(), descriptor.inputHeight());
    float[] tensor = spareTensors.poll();
    if (tensor == null) {
      tensor = new float[imageFloats];
    } else {
      spareCount.decrementAndGet();
    }
    Resizer.resize(pixels, g, tensor, nchw, bgr, mul, add, pad);
    long t2 = System.nanoTime();
    return new PreparedImage(tensor, this, g, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
  }

  /** Runs prepared images in batches of {@link #batchSize()}; results in input order. */
  public List<ImageResult> infer(List<PreparedImage> images, DetectionParams params) throws ModelException {
    DetectionParams p = java.util.Objects.requireNonNull(params, "params");
    List<ImageResult> results = new ArrayList<>(images.size());
    for (int start = 0; start < images.size(); start += batchSize) {
      results.addAll(run(images.subList(start, Math.min(images.size(), start + batchSize)), p));
    }
    return results;
  }

  /**
   * Decodes, runs and postprocesses encoded images; an image that cannot be decoded gets a result with
   * {@code error} set and the others go on. The next batch is decoded on a helper thread while this one runs.
   */
  public List<ImageResult> predict(List<byte[]> images, DetectionParams params) throws ModelException {
    DetectionParams p = java.util.Objects.requireNonNull(params, "params");
    int n = images.size();
    ImageResult[] results = new ImageResult[n];
    Object[] current = prepareChunk(images, 0);
    for (int start = 0; start < n; start += batchSize) {
      int nextStart = start + batchSize;
      Future<Object[]> next = nextStart < n ? preparer.submit(() -> prepareChunk(images, nextStart)) : null;
      try {
        List<PreparedImage> ok = new ArrayList<>(current.length);
        for (int i = 0; i < current.length; i++) {
          if (current[i] instanceof PreparedImage prepared) {
            ok.add(prepared);
          } else {
            results[start + i] = (ImageResult) current[i];
          }
        }
        List<ImageResult> ran = ok.isEmpty() ? List.of() : run(ok, p);
        for (PreparedImage done : ok) { // never seen outside predict: its tensor can be reused
          if (spareCount.incrementAndGet() <= 2 * batchSize + 2) {
            spareTensors.offer(done.tensor);
          } else {
            spareCount.decrementAndGet();
          }
        }
        for (int i = 0, k = 0; i < current.length; i++) {
          if (results[start + i] == null) {
            results[start + i] = ran.get(k++);
          }
        }
        if (next != null) {
          current = next.get();
        }
      } catch (InterruptedException e) {
        if (next != null) {
          next.cancel(true);
        }
        Thread.currentThread().interrupt();
        throw new ModelException("Interrupted while preparing images", e);
      } catch (ExecutionException e) {
        throw new IllegalStateException("Preparing images failed", e.getCause());
      } catch (ModelException | RuntimeException e) {
        if (next != null) {
          next.cancel(true);
        }
        throw e;
      }
    }
    return Arrays.asList(results);
  }

  private Object[] prepareChunk(List<byte[]> images, int start) {
    int end = Math.min(images.size(), start + batchSize);
    Object[] out = new Object[end - start];
    for (int i = start; i < end; i++) {
      try {
        out[i - start] = prepare(images.get(i));
      } catch (ImageException e) {
        out[i - start] = ImageResult.failed(e.getMessage());
      }
    }
    return out;
  }

  /** One {@code session.run} over at most {@link #batchSize()} images. */
  private List<ImageResult> run(List<PreparedImage> images, DetectionParams p) throws ModelException {
    int count = images.size();
    int runBatch = fixedBatch > 0 ? fixedBatch : count;
    for (PreparedImage image : images) {
      if (image.owner != this) {
        throw new IllegalArgumentException("a PreparedImage can only run on the engine that prepared it");
      }
    }
    FloatBuffer input = inputBuffers.poll();
    if (input == null) {
      input = ByteBuffer.allocateDirect(batchSize * imageFloats * Float.BYTES).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
    }
    try {
      input.clear();
      for (PreparedImage image : images) {
        input.put(image.tensor);
      }
      while (input.position() < runBatch * imageFloats) { // a fixed batch larger than what we have: zero slots
        input.put(0f);
      }
      input.flip();
      long[] shape = nchw
          ? new long[] {runBatch, 3, descriptor.inputHeight(), descriptor.inputWidth()}
          : new long[] {runBatch, descriptor.inputHeight(), descriptor.inputWidth(), 3};
      long t0 = System.nanoTime();
      try (OnnxTensor tensor = OnnxTensor.createTensor(env, input, shape);
           OrtSession.Result result = session.run(Map.of(descriptor.inputName(), tensor), outputs)) {
        long t1 = System.nanoTime();
        double inferenceMs = (t1 - t0) / 1e6 / count;
        OnnxValue value = result.get(descriptor.outputName()).orElseThrow();
        FloatBuffer protos = null;
        long[] protoShape = null;
        if (protoOutput != null) {
          if (!(result.get(protoOutput).orElseThrow() instanceof OnnxTensor pt)
              || pt.getInfo().type != OnnxJavaType.FLOAT) {
            throw new ModelException("Output '" + protoOutput + "' (the mask prototypes) is not a float32 tensor.");
          }
          protos = pt.getFloatBuffer();
          protoShape = pt.getInfo().getShape();
        }
        if (!(value instanceof OnnxTensor out) || out.getInfo().type != OnnxJavaType.FLOAT) {
          throw new ModelException("Output '" + descriptor.outputName() + "' is not a float32 tensor ("
              + value.getInfo() + ").");
        }
        long[] outShape = out.getInfo().getShape();
        OutputLayout l = layoutFor(outShape);
        if ((l.segment() && protoOutput == null) || (l.pose() && extra == null)) {
          throw new ModelException("A " + l.id() + " model needs its output's row count known at load (found "
              + OutputLayout.describe(outShape) + " only when run); name the layout in a descriptor.");
        }
        FloatBuffer data = out.getFloatBuffer();
        List<ImageResult> results = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long p0 = System.nanoTime();
          List<Detection> detections = detections(l, data, i, outShape, p, images.get(i).geometry(), protos,
              protoShape);
          double postMs = (System.nanoTime() - p0) / 1e6;
          PreparedImage image = images.get(i);
          results.add(new ImageResult(image.width(), image.height(), detections, image.decodeMs(),
              image.preprocessMs(), inferenceMs, postMs, null));
        }
        return results;
      } catch (OrtException e) {
        throw new ModelException("session.run failed: " + e.getMessage(), e);
      }
    } finally {
      inputBuffers.offer(input);
    }
  }

  private OutputLayout layoutFor(long[] shape) throws ModelException {
    OutputLayout l = layout;
    if (l == null) { // output dims were symbolic at load: decide from the first real shape
      l = OutputLayout.detect(shape, descriptor.numClasses(), null, descriptor.task());
      if (l == null) {
        throw new ModelException(ModelInspector.unsupported(descriptor.outputName(), shape));
      }
      layout = l;
    }
    return l;
  }

  private List<Detection> detections(OutputLayout l, FloatBuffer data, int image, long[] shape, DetectionParams p,
                                     ImageGeometry g, FloatBuffer protos, long[] protoShape) {
    if (l.obb()) {
      return oriented(l, data, image, shape, p, g);
    }
    int extraRows = l.segment() ? extra[1] : l.pose() ? extra[0] * extra[1] : 0;
    List<Candidate> found = Decoders.decode(l, data, image, shape, p, extraRows);
    if (found.isEmpty()) {
      return Collections.emptyList();
    }
    List<String> names = descriptor.classNames();
    int d1 = (int) shape[1];
    int d2 = shape.length > 2 ? (int) shape[2] : 1;
    int offset = image * d1 * d2;
    // Value f of candidate i sits at offset + f * fieldStride + i * indexStride: rows of anchors for the
    // Ultralytics layouts, one row of columns per object for the end-to-end ones.
    int fieldStride = l.endToEnd() ? 1 : d2;
    int indexStride = l.endToEnd() ? d2 : 1;
    int firstExtra = l.endToEnd() ? 6 : d1 - extraRows;
    List<Detection> detections = new ArrayList<>(found.size());
    for (Candidate c : found) {
      String name = c.classId() < names.size() ? names.get(c.classId()) : "class_" + c.classId();
      BBox box = l == OutputLayout.CLASSIFICATION ? new BBox(0, 0, g.srcWidth(), g.srcHeight())
          : g.toSource(c.x1(), c.y1(), c.x2(), c.y2());
      int at = offset + c.index() * indexStride;
      Mask mask = null;
      List<Keypoint> keypoints = null;
      if (l.segment()) {
        int nm = (int) protoShape[1];
        float[] coef = new float[nm];
        for (int k = 0; k < nm; k++) {
          coef[k] = data.get(at + (firstExtra + k) * fieldStride);
        }
        int ph = (int) protoShape[2];
        int pw = (int) protoShape[3];
        mask = Masks.mask(protos, image * nm * ph * pw, nm, ph, pw, coef, box, g);
      } else if (l.pose()) {
        keypoints = new ArrayList<>(extra[0]);
        for (int k = 0; k < extra[0]; k++) {
          int field = firstExtra + k * extra[1];
          float x = data.get(at + field * fieldStride);
          float y = data.get(at + (field + 1) * fieldStride);
          float score = extra[1] == 3 ? data.get(at + (field + 2) * fieldStride) : 1f;
          keypoints.add(new Keypoint(keypointNames.get(k), g.toSourceX(x), g.toSourceY(y), score));
        }
      }
      detections.add(new Detection(c.classId(), name, c.score(), box, mask, keypoints));
    }
    return detections;
  }

  /** Oriented boxes mapped back corner by corner; the box is their bounds, clipped to the image. */
  private List<Detection> oriented(OutputLayout l, FloatBuffer data, int image, long[] shape, DetectionParams p,
                                   ImageGeometry g) {
    int d1 = (int) shape[1];
    int d2 = (int) shape[2];
    List<String> names = descriptor.classNames();
    List<Detection> out = new ArrayList<>();
    for (RotatedNms.Rotated r : Decoders.oriented(l, data, image * d1 * d2, d1, d2, p)) {
      Candidate c = r.candidate();
      float[] in = r.corners();
      float[] corners = new float[8];
      float x1 = Float.MAX_VALUE;
      float y1 = Float.MAX_VALUE;
      float x2 = -Float.MAX_VALUE;
      float y2 = -Float.MAX_VALUE;
      for (int i = 0; i < 4; i++) {
        corners[2 * i] = (in[2 * i] - g.padLeft()) / g.gainX();
        corners[2 * i + 1] = (in[2 * i + 1] - g.padTop()) / g.gainY();
        x1 = Math.min(x1, corners[2 * i]);
        y1 = Math.min(y1, corners[2 * i + 1]);
        x2 = Math.max(x2, corners[2 * i]);
        y2 = Math.max(y2, corners[2 * i + 1]);
      }
      Obb obb = new Obb((r.cx() - g.padLeft()) / g.gainX(), (r.cy() - g.padTop()) / g.gainY(), r.w() / g.gainX(),
          r.h() / g.gainY(), r.angle(), corners);
      BBox bounds = new BBox(Math.max(0, x1), Math.max(0, y1), Math.min(g.srcWidth(), x2),
          Math.min(g.srcHeight(), y2));
      String name = c.classId() < names.size() ? names.get(c.classId()) : "class_" + c.classId();
      out.add(new Detection(c.classId(), name, c.score(), bounds, null, null, obb));
    }
    return out;
  }

  @Override
  public void close() {
    preparer.shutdownNow();
    closeQuietly(session);
  }

  /**
   * The output layout: read from the model at load or, when its output dimensions are symbolic, from the shape of
   * one run on a blank input (what the first real batch would do).
   */
  public OutputLayout outputLayout() throws ModelException {
    if (layout != null) {
      return layout;
    }
    int batch = batchSize;
    FloatBuffer zeros = ByteBuffer.allocateDirect(batch * imageFloats * Float.BYTES).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    long[] shape = nchw
        ? new long[] {batch, 3, descriptor.inputHeight(), descriptor.inputWidth()}
        : new long[] {batch, descriptor.inputHeight(), descriptor.inputWidth(), 3};
    try (OnnxTensor tensor = OnnxTensor.createTensor(env, zeros, shape);
         OrtSession.Result result = session.run(Map.of(descriptor.inputName(), tensor), outputs)) {
      if (!(result.get(0) instanceof OnnxTensor out)) {
        throw new ModelException("Output '" + descriptor.outputName() + "' is not a tensor.");
      }
      return layoutFor(out.getInfo().getShape());
    } catch (OrtException e) {
      throw new ModelException("session.run failed: " + e.getMessage(), e);
    }
  }

  /** Runs the session on a ready-made input (for benchmarks); returns the wall time in ms. */
  public double runRaw(FloatBuffer directInput, int batch) throws ModelException {
    long[] shape = nchw
        ? new long[] {batch, 3, descriptor.inputHeight(), descriptor.inputWidth()}
        : new long[] {batch, descriptor.inputHeight(), descriptor.inputWidth(), 3};
    long t0 = System.nanoTime();
    try (OnnxTensor tensor = OnnxTensor.createTensor(env, directInput.duplicate(), shape);
         OrtSession.Result ignored = session.run(Map.of(descriptor.inputName(), tensor), outputs)) {
      return (System.nanoTime() - t0) / 1e6;
    } catch (OrtException e) {
      throw new ModelException("session.run failed: " + e.getMessage(), e);
    }
  }

  /** The input tensor of prepared images, packed as one direct buffer (for benchmarks). */
  public FloatBuffer packInputs(List<PreparedImage> images) {
    FloatBuffer buffer = ByteBuffer.allocateDirect(images.size() * imageFloats * Float.BYTES)
        .order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (PreparedImage image : images) {
      buffer.put(image.tensor);
    }
    return buffer.flip();
  }

  static Map<String, NodeInfo> inputs(OrtSession session) throws ModelException {
    try {
      return session.getInputInfo();
    } catch (OrtException e) {
      throw new ModelException("Cannot read the model's inputs: " + e.getMessage(), e);
    }
  }

  static TensorInfo tensorInfo(NodeInfo node) {
    return node.getInfo() instanceof TensorInfo t ? t : null;
  }

  private static void closeQuietly(OrtSession session) {
    try {
      session.close();
    } catch (OrtException e) {
      LOG.debug("closing session", e);
    }
  }
}
