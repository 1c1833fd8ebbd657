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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Checkpoints loaded once per device: keyed by S3 URI and ETag, kept on disk (survives restarts) and in memory (a
 * small LRU of ready engines). Concurrent requests for the same model share one load. Loads run on the cache's own
 * pool, never behind inference batches. Every chunk holds the engine it uses ({@link #acquire}, then
 * {@link Held#release}): only a model no chunk holds is evicted and closed, so the cache may exceed its size while more
 * models are in use at once. A missing, too large or unreadable checkpoint fails with {@link JobFailure}; a download
 * that fails for any other reason (S3 unreachable, a full disk) fails only the chunk.
 */
final class ModelCache {
  private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

  private final S3Storage storage;
  private final BoundedExecutor loader;
  private final EngineOptions options;
  private final Path dir;
  private final int capacity;
  private final long maxBytes;
  private final Metrics.WorkerMeters meters;
  private final Map<String, Entry> engines = new LinkedHashMap<>(16, 0.75f, true);
  /**
   * What S3 said of each checkpoint lately (size and ETag), for {@link #HEAD_TTL_MS}: a chunk of a busy model skips
   * the HEAD request, which on a one-image job sat on the path to its first image. A checkpoint registered through
   * the API clears it at once ({@link #forgetHeads}); the TTL bounds a change made to S3 some other way.
   */
  private final Map<String, CachedHead> heads = new HashMap<>();

  static final long HEAD_TTL_MS = 5_000;

  private record CachedHead(S3Storage.ObjectInfo info, long until) {
  }

  private static final class Entry {
    final Future<InferenceEngine> load;
    int users;
    boolean evicted;

    Entry(Future<InferenceEngine> load) {
      this.load = load;
    }
  }

  /** A loaded model held by one chunk until it releases it. */
  final class Held {
    private final String key;
    private final Entry entry;
    final InferenceEngine engine;
    private boolean released;

    private Held(String key, Entry entry, InferenceEngine engine) {
      this.key = key;
      this.entry = entry;
      this.engine = engine;
    }

    /** Call on the verticle's event loop, once. */
    void release() {
      if (released) {
        return;
      }
      released = true;
      entry.users--;
      if (entry.evicted && entry.users == 0) {
        entry.load.onSuccess(InferenceEngine::close);
      } else {
        evict();
      }
    }

    @Override
    public String toString() {
      return key;
    }
  }

  ModelCache(S3Storage storage, BoundedExecutor loader, EngineOptions options, Path dir, int capacity, long maxBytes,
             Metrics.WorkerMeters meters) {
    this.storage = storage;
    this.loader = loader;
    this.options = options;
    this.dir = dir;
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.meters = meters;
  }

  /** The engine for {@code uri}, held until released. Call on the verticle's event loop only. */
  Future<Held> acquire(String uri) {
    S3Uri s3 = S3Uri.parse(uri).orElse(null);
    if (s3 == null) {
      return Future.failedFuture(new JobFailure("checkpoint " + uri + " is not an s3:// URI"));
    }
    CachedHead cached = heads.get(uri);
    long now = System.nanoTime();
    Future<Optional<S3Storage.ObjectInfo>> head = cached != null && now - cached.until() < 0
        ? Future.succeededFuture(Optional.of(cached.info()))
        : storage.head(s3).onSuccess(found -> {
          if (found.isPresent()) { // a missing checkpoint is asked about again each time
            if (heads.size() > 1_000) {
              heads.clear();
            }
            heads.put(uri, new CachedHead(found.get(), System.nanoTime() + HEAD_TTL_MS * 1_000_000L));
          } else {
            heads.remove(uri);
          }
        });
    return head.compose(info -> {
      if (info.isEmpty()) {
        return Future.failedFuture(new JobFailure("checkpoint " + uri + " does not exist"));
      }
      if (info.get().size() > maxBytes) {
        return Future.failedFuture(new JobFailure("checkpoint " + uri + " is " + info.get().size()
            + " bytes, more than the " + maxBytes + " that limits.max_checkpoint_bytes (MAX_CHECKPOINT_BYTES) allows"));
      }
      String etag = info.get().etag() == null ? "none" : info.get().etag().replace("\"", "");
      String key = uri + "#" + etag;
      Entry entry = engines.get(key);
      if (entry != null && !entry.load.failed()) {
        meters.modelCacheHits.increment();
      } else {
        entry = new Entry(load(s3, key, uri));
        engines.put(key, entry);
        Entry loading = entry;
        // a failed load is forgotten, so that the next chunk tries again
        entry.load.onFailure(err -> engines.remove(key, loading));
      }
      Entry held = entry;
      held.users++;
      return held.load
          .map(engine -> new Held(key, held, engine))
          .onFailure(err -> held.users--)
          .onSuccess(h -> evict());
    });
  }

  /** Drops what S3 said of every checkpoint: one was registered or replaced (on any node). */
  void forgetHeads() {
    heads.clear();
  }

  private Future<InferenceEngine> load(S3Uri s3, String key, String uri) {
    Path file = dir.resolve(sha256(key) + ".onnx");
    // the disk copy survives restarts: download only what is not there yet (file checks off the event loop)
    return loader.submit(() -> Files.isRegularFile(file))
        .compose(onDisk -> onDisk ? Future.<Void>succeededFuture()
            : storage.download(s3, tmp(file))
                .recover(err -> Future.failedFuture(S3Storage.missing(err)
                    ? new JobFailure("checkpoint " + uri + " does not exist") : diskOr(err)))
                .compose(v -> loader.submit(() -> {
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
  }

  /** A download that failed for lack of room says so (and is retried later, like any transient fault). */
  private Throwable diskOr(Throwable err) {
    try {
      long usable = Files.getFileStore(Files.createDirectories(dir)).getUsableSpace();
      if (usable < 64L * 1024 * 1024) {
        return new IOException("disk full: " + usable / (1024 * 1024) + " MiB free for the model cache in " + dir,
            err);
      }
    } catch (IOException ignored) {
      // the original failure says more
    }
    return err;
  }

  /** Drops the least recently used models that no chunk holds, down to the capacity. */
  private void evict() {
    Iterator<Map.Entry<String, Entry>> it = engines.entrySet().iterator();
    int excess = engines.size() - capacity;
    while (excess > 0 && it.hasNext()) {
      Entry e = it.next().getValue();
      if (e.users == 0 && e.load.isComplete()) {
        it.remove();
        e.evicted = true;
        e.load.onSuccess(InferenceEngine::close);
        excess--;
      }
    }
  }

  /** Models loaded or loading now (for tests and logs). */
  int size() {
    return engines.size();
  }

  void close() {
    engines.values().forEach(e -> e.load.onSuccess(InferenceEngine::close));
    engines.clear();
  }

  private static Path tmp(Path file) {
    return file.resolveSibling(file.getFileName() + ".part");
  }

  private static String sha256(String s) {
    return io.inferencejobs.support.Digests.sha256Hex(s).substring(0, 32);
  }
}
