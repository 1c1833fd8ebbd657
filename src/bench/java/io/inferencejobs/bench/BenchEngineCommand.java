package io.inferencejobs.bench;

import io.inferencejobs.cli.CliOutput;
import io.inferencejobs.cli.PredictCommand;

import io.inferencejobs.inference.DetectionParams;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.ImageException;
import io.inferencejobs.inference.ImageResult;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.ModelException;
import io.inferencejobs.inference.PreparedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code bench-engine [--model F] [--images DIR] [--batch 1,8] [--threads N] [--seconds S]}: throughput of bare
 * {@code session.run} on ready-made tensors against the whole engine path (decode, preprocess, run, postprocess) at
 * the same model, threads and batch size, plus single-thread decode+preprocess time. Runs about
 * {@code 2 x S} seconds per batch size plus warm-up.
 */
public final class BenchEngineCommand {

  private static final String USAGE = "usage: bench-engine [--model FILE] [--images DIR] [--batch 1,8] "
      + "[--threads N] [--seconds S] [--device auto|cpu|cuda:N]";
  private static final String BUNDLED = "/models/centernet_coco80_yolov8.onnx";

  private BenchEngineCommand() {
  }

  public static int run(String[] args) {
    return run(args, CliOutput.takeStdout(), System.err);
  }

  static int run(String[] argv, PrintStream out, PrintStream err) {
    io.inferencejobs.cli.Args args;
    int[] batches;
    double seconds;
    EngineOptions base;
    try {
      args = io.inferencejobs.cli.Args.parse(argv, Set.of("help"),
          Set.of("model", "images", "batch", "threads", "seconds", "device"));
      if (args.flag("help")) {
        out.println(USAGE);
        return 0;
      }
      batches = Arrays.stream(args.get("batch", "1,8").split(",")).map(String::trim).mapToInt(Integer::parseInt)
          .toArray();
      seconds = Math.max(0.5, Math.min(60, Double.parseDouble(args.get("seconds", "5"))));
      base = EngineOptions.defaults().withDevice(args.get("device", "auto"))
          .withThreads(args.getInt("threads", 0), 0);
    } catch (IllegalArgumentException e) {
      err.println("bench-engine: " + e.getMessage());
      err.println(USAGE);
      return 2;
    }
    try {
      byte[] model = loadModel(args.get("model", null));
      List<Path> files = imageFiles(args.get("images", null));
      List<byte[]> images = new ArrayList<>();
      for (Path f : files) {
        images.add(Files.readAllBytes(f));
      }
      out.printf(Locale.ROOT, "model: %s (%d bytes), %d images from %s, threads %s, %d cores, load average %.2f%n",
          args.get("model", "bundled " + BUNDLED), model.length, images.size(),
          files.get(0).getParent(), base.intraOpThreads() == 0 ? "ORT default" : base.intraOpThreads(),
          Runtime.getRuntime().availableProcessors(), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());

      decoders(model, base, files, images, Math.min(seconds, 3), out);
      out.println();
      out.printf(Locale.ROOT, "%-6s %-10s %10s %10s %7s   %8s %8s %8s %8s%n", "batch", "path", "images/s",
          "ms/image", "ratio", "decode", "preproc", "infer", "post");
      double prepareCpu;
      try (InferenceEngine engine = InferenceEngine.load(model, null, base.withBatchSize(1))) {
        prepareCpu = prepareCpuPerImage(engine, images);
      }
      for (int batch : batches) {
        try (InferenceEngine engine = InferenceEngine.load(model, null, base.withBatchSize(batch))) {
          benchBatch(engine, images, seconds, prepareCpu, out);
        }
      }
      return 0;
    } catch (IOException | ModelException | ImageException e) {
      err.println("bench-engine: " + e.getMessage());
      return 1;
    }
  }

  /**
   * Single-thread decode + preprocess CPU of a 768x576 JPEG (dog.jpg) and a 4000x3000 one (dog.jpg enlarged, with
   * noise so it compresses like a photo), with each JPEG decoder this machine has, interleaved: ImageIO, and
   * libjpeg-turbo with DCT scaling when it is installed.
   */
  private static void decoders(byte[] model, EngineOptions base, List<Path> files, List<byte[]> images,
                               double seconds, PrintStream out) throws ModelException, ImageException, IOException {
    int pick = 0;
    for (int i = 0; i < files.size(); i++) {
      if (files.get(i).getFileName().toString().equals("dog.jpg")) {
        pick = i;
      }
    }
    byte[] dog = images.get(pick);
    byte[] phone = phonePhoto(dog);
    List<String> names = new ArrayList<>(List.of("imageio"));
    List<InferenceEngine> engines = new ArrayList<>();
    try {
      engines.add(InferenceEngine.load(model, null, base.withBatchSize(1).withJpegDecoder("imageio")));
      InferenceEngine auto = InferenceEngine.load(model, null, base.withBatchSize(1).withJpegDecoder("auto"));
      engines.add(auto);
      if (auto.jpegDecoder().equals("imageio")) {
        auto.close();
        engines.remove(1);
        out.println("libturbojpeg is not installed: ImageIO only (Debian: apt-get install libturbojpeg0)");
      } else {
        names.add("turbojpeg");
      }
      String[] photos = {files.get(pick).getFileName() + " 768x576", "phone 4000x3000"};
      byte[][] data = {dog, phone};
      // samples[decoder][photo]: {wall decode, wall preprocess, thread CPU}
      List<List<List<double[]>>> samples = new ArrayList<>();
      for (int e = 0; e < engines.size(); e++) {
        samples.add(List.of(new ArrayList<>(), new ArrayList<>()));
        for (byte[] photo : data) {
          for (int i = 0; i < 5; i++) {
            engines.get(e).prepare(photo);
          }
        }
      }
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long end = System.nanoTime() + (long) (seconds * 1e9);
      int rounds = 0;
      while (System.nanoTime() < end || rounds < 5) {
        rounds++;
        for (int p = 0; p < data.length; p++) {
          for (int e = 0; e < engines.size(); e++) {
            for (int k = 0; k < (p == 0 ? 10 : 2); k++) {
              long cpu0 = threads.getCurrentThreadCpuTime();
              PreparedImage r = engines.get(e).prepare(data[p]);
              double cpu = (threads.getCurrentThreadCpuTime() - cpu0) / 1e6;
              samples.get(e).get(p).add(new double[] {r.decodeMs(), r.preprocessMs(), cpu});
            }
          }
        }
      }
      out.printf(Locale.ROOT, "single-thread decode + preprocess to %dx%d (phone photo: %d bytes), interleaved%n",
          engines.get(0).descriptor().inputWidth(), engines.get(0).descriptor().inputHeight(), phone.length);
      out.printf(Locale.ROOT, "%-22s %-10s %8s %8s %10s %17s %7s %7s%n", "photo", "decoder", "decode", "preproc",
          "CPU p50", "CPU p10-p90", "ratio", "target");
      double[] targets = {3, 25};
      for (int p = 0; p < data.length; p++) {
        double baseline = 0;
        for (int e = 0; e < engines.size(); e++) {
          List<double[]> list = samples.get(e).get(p);
          double cpu = percentile(list, 2, 0.5);
          if (e == 0) {
            baseline = cpu;
          }
          out.printf(Locale.ROOT, "%-22s %-10s %8.2f %8.2f %10.2f %8.2f-%-8.2f %7.2f %7s%n", photos[p], names.get(e),
              percentile(list, 0, 0.5), percentile(list, 1, 0.5), cpu, percentile(list, 2, 0.1),
              percentile(list, 2, 0.9), baseline / cpu, "<=" + (int) targets[p] + " ms");
        }
      }
      out.println("(ms; ratio = ImageIO CPU / this decoder's CPU, " + rounds + " interleaved rounds)");
    } finally {
      for (InferenceEngine e : engines) {
        e.close();
      }
    }
  }

  /** A 4000x3000 JPEG: the photo enlarged, plus sensor-like noise so it is as hard to decode as a real one. */
  static byte[] phonePhoto(byte[] jpeg) throws IOException {
    java.awt.image.BufferedImage src = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(jpeg));
    java.awt.image.BufferedImage big = new java.awt.image.BufferedImage(4000, 3000,
        java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
    java.awt.Graphics2D g = big.createGraphics();
    g.setRenderingHint(java.awt.RenderingHints.KEY_INTERPOLATION,
        java.awt.RenderingHints.VALUE_INTERPOLATION_BILINEAR);
    g.drawImage(src, 0, 0, 4000, 3000, null);
    g.dispose();
    byte[] px = ((java.awt.image.DataBufferByte) big.getRaster().getDataBuffer()).getData();
    java.util.SplittableRandom random = new java.util.SplittableRandom(42);
    for (int i = 0; i < px.length; i++) {
      int v = (px[i] & 0xFF) + random.nextInt(-6, 7);
      px[i] = (byte) Math.max(0, Math.min(255, v));
    }
    javax.imageio.ImageWriter writer = javax.imageio.ImageIO.getImageWritersByFormatName("jpeg").next();
    javax.imageio.ImageWriteParam param = writer.getDefaultWriteParam();
    param.setCompressionMode(javax.imageio.ImageWriteParam.MODE_EXPLICIT);
    param.setCompressionQuality(0.9f);
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (javax.imageio.stream.MemoryCacheImageOutputStream stream =
             new javax.imageio.stream.MemoryCacheImageOutputStream(bytes)) {
      writer.setOutput(stream);
      writer.write(null, new javax.imageio.IIOImage(big, null, null), param);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }

  private static double percentile(List<double[]> samples, int column, double q) {
    double[] v = samples.stream().mapToDouble(s -> s[column]).sorted().toArray();
    return v[Math.min(v.length - 1, (int) (q * v.length))];
  }

  /** Mean thread CPU seconds to decode and preprocess one image of the set (each image prepared 3 times). */
  private static double prepareCpuPerImage(InferenceEngine engine, List<byte[]> images) throws ImageException {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    for (byte[] image : images) {
      engine.prepare(image);
    }
    long cpu0 = threads.getCurrentThreadCpuTime();
    for (int round = 0; round < 3; round++) {
      for (byte[] image : images) {
        engine.prepare(image);
      }
    }
    return (threads.getCurrentThreadCpuTime() - cpu0) / 1e9 / (3.0 * images.size());
  }

  /** CPU seconds this process has used, all threads (ONNX Runtime's native threads included). */
  private static double processCpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e9;
  }

  private static void benchBatch(InferenceEngine engine, List<byte[]> images, double seconds, double prepareCpu,
                                 PrintStream out) throws ModelException, ImageException {
    int batch = engine.batchSize();
    // (a) bare session.run on a ready-made tensor
    List<PreparedImage> prepared = new ArrayList<>();
    for (int i = 0; i < batch; i++) {
      prepared.add(engine.prepare(images.get(i % images.size())));
    }
    FloatBuffer input = engine.packInputs(prepared);
    engine.runRaw(input, batch);
    engine.runRaw(input, batch);
    int runs = 0;
    double cpu0 = processCpu();
    long t0 = System.nanoTime();
    long end = t0 + (long) (seconds * 1e9);
    while (System.nanoTime() < end || runs < 3) {
      engine.runRaw(input, batch);
      runs++;
    }
    double bareSeconds = (System.nanoTime() - t0) / 1e9;
    double bareRate = runs * batch / bareSeconds;
    double runCpu = (processCpu() - cpu0) / (runs * batch);

    // (b) the whole path over the same time: one predict call, so decoding overlaps inference
    List<byte[]> warm = new ArrayList<>();
    for (int i = 0; i < batch; i++) {
      warm.add(images.get(i % images.size()));
    }
    engine.predict(warm, PredictCommand.defaultParams());
    int n = Math.max(3 * batch, (int) Math.ceil(bareRate * seconds / batch) * batch);
    List<byte[]> work = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      work.add(images.get(i % images.size()));
    }
    long t1 = System.nanoTime();
    List<ImageResult> results = engine.predict(work, PredictCommand.defaultParams());
    double wholeSeconds = (System.nanoTime() - t1) / 1e9;
    double wholeRate = n / wholeSeconds;
    double[] stages = new double[4];
    int ok = 0;
    for (ImageResult r : results) {
      if (r.ok()) {
        ok++;
        stages[0] += r.decodeMs();
        stages[1] += r.preprocessMs();
        stages[2] += r.inferenceMs();
        stages[3] += r.postprocessMs();
      }
    }
    for (int i = 0; i < 4; i++) {
      stages[i] /= Math.max(1, ok);
    }
    out.printf(Locale.ROOT, "%-6d %-10s %10.2f %10.2f %7s   %8s %8s %8.2f %8s%n", batch, "bare", bareRate,
        1000 / bareRate, "", "", "", 1000 / bareRate, "");
    out.printf(Locale.ROOT, "%-6d %-10s %10.2f %10.2f %6.1f%%   %8.2f %8.2f %8.2f %8.3f%n", batch, "engine",
        wholeRate, 1000 / wholeRate, 100 * wholeRate / bareRate, stages[0], stages[1], stages[2], stages[3]);
    // what the cores allow: each image needs the runtime's CPU and the decoder's, and no more than bare can run
    int cores = Runtime.getRuntime().availableProcessors();
    double bound = Math.min(bareRate, cores / (runCpu + prepareCpu));
    out.printf(Locale.ROOT, "%-6d %-10s %10.2f %10.2f %6.1f%%   (%d cores / (%.1f ms run CPU + %.1f ms decode and "
            + "preprocess CPU per image), at most bare)%n", batch, "bound", bound, 1000 / bound,
        100 * wholeRate / bound, cores, runCpu * 1000, prepareCpu * 1000);
  }

  private static byte[] loadModel(String path) throws IOException {
    if (path != null) {
      return Files.readAllBytes(Path.of(path));
    }
    try (InputStream in = BenchEngineCommand.class.getResourceAsStream(BUNDLED)) {
      if (in == null) {
        throw new IOException("the bundled model " + BUNDLED + " is missing from the classpath");
      }
      return in.readAllBytes();
    }
  }

  private static List<Path> imageFiles(String dir) throws IOException {
    List<Path> candidates = dir != null ? List.of(Path.of(dir))
        : List.of(Path.of("src/test/resources/images"), Path.of("../shared/images"));
    for (Path d : candidates) {
      if (Files.isDirectory(d)) {
        try (Stream<Path> s = Files.list(d)) {
          List<Path> files = s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT)
                  .matches(".*\\.(jpe?g|png|bmp|webp)$"))
              .sorted().toList();
          if (!files.isEmpty()) {
            return files;
          }
        }
      }
    }
    throw new IOException("no images found in " + candidates + "; pass --images DIR");
  }
}
