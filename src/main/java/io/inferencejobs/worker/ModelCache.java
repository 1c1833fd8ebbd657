package io.inferencejobs.worker;

import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.metrics.Metrics;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checkpoints loaded once per device: keyed by S3 URI and ETag, kept on disk (survives restarts) and in memory
 * (a small LRU of ready engines). Concurrent requests for the same model share one load.
 */
final class ModelCache {
  private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

  private final S3Storage storage;
  private final BoundedExecutor loader;
  private final EngineOptions options;
  private final Path dir;
  private final int capacity;
  private final Map<String, Future<InferenceEngine>> engines = new LinkedHashMap<>(16, 0.75f, true);

  private final Metrics.WorkerMeters meters;

  ModelCache(S3Storage storage, BoundedExecutor loader, EngineOptions options, Path dir, int capacity,
             Metrics.WorkerMeters meters) {
    this.meters = meters;
    this.storage = storage;
    this.loader = loader;
    this.options = options;
    this.dir = dir;
    this.capacity = capacity;
  }

  /** Call on the verticle's event loop only (the map is not shared across threads). */
  Future<InferenceEngine> get(String uri) {
    S3Uri s3 = S3Uri.parse(uri).orElseThrow(() -> new IllegalArgumentException("not an s3 URI: " + uri));
    return storage.head(s3).compose(info -> {
      if (info.isEmpty()) {
        return Future.failedFuture(new IllegalStateException("checkpoint " + uri + " does not exist"));
      }
      String etag = info.get().etag() == null ? "none" : info.get().etag().replace("\"", "");
      String key = uri + "#" + etag;
      Future<InferenceEngine> cached = engines.get(key);
      if (cached != null && !cached.failed()) {
        meters.modelCacheHits.increment();
        return cached;
      }
      Path file = dir.resolve(sha256(key) + ".onnx");
      // the disk copy survives restarts: download only what is not there yet (file checks off the event loop)
      Future<InferenceEngine> load = loader.submit(() -> Files.isRegularFile(file))
          .compose(onDisk -> onDisk ? Future.<Void>succeededFuture()
              : storage.download(s3, tmp(file)).compose(v -> loader.submit(() -> {
                Files.move(tmp(file), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                return null;
              })))
          .compose(v -> loader.submit(() -> {
            long t0 = System.nanoTime();
            InferenceEngine engine = InferenceEngine.load(file, options);
            meters.modelLoads.increment();
            LOG.info("loaded checkpoint {} ({} on {}) in {} ms", uri, engine.descriptor().outputLayout(),
                engine.provider(), (System.nanoTime() - t0) / 1_000_000);
            return engine;
          }));
      engines.put(key, load);
      evict();
      return load;
    });
  }

  private void evict() {
    while (engines.size() > capacity) {
      var it = engines.entrySet().iterator();
      var eldest = it.next();
      it.remove();
      eldest.getValue().onSuccess(InferenceEngine::close);
    }
  }

  void close() {
    engines.values().forEach(f -> f.onSuccess(InferenceEngine::close));
    engines.clear();
  }

  private static Path tmp(Path file) {
    return file.resolveSibling(file.getFileName() + ".part");
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)))
          .substring(0, 32);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
