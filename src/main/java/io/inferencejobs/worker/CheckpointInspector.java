package io.inferencejobs.worker;

import io.inferencejobs.bus.CheckpointInfo;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.ModelDescriptor;
import io.inferencejobs.inference.ModelException;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Answers "what is inside this checkpoint?" for the API: downloads it, loads it on the CPU (an inspection needs no
 * GPU memory), reads its descriptor and output layout, and replies. A file the engine cannot read is a 422 failure
 * with the engine's reason; a download that fails is a 503.
 */
final class CheckpointInspector {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointInspector.class);

  private final S3Storage storage;
  private final BoundedExecutor loader;
  private final Path dir;
  private final long maxBytes;

  CheckpointInspector(S3Storage storage, BoundedExecutor loader, Path dir, long maxBytes) {
    this.storage = storage;
    this.loader = loader;
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  void handle(Message<JsonObject> msg) {
    String text = msg.body().getString("s3_uri");
    S3Uri uri = S3Uri.parse(text).orElse(null);
    if (uri == null) {
      msg.fail(CheckpointInfo.NOT_A_MODEL, "not an s3:// URI: " + text);
      return;
    }
    Path file = dir.resolve("inspect-" + UUID.randomUUID() + ".onnx");
    storage.head(uri)
        .compose(info -> info.isEmpty() ? Future.failedFuture(new JobFailure(uri + " does not exist"))
            : info.get().size() > maxBytes ? Future.failedFuture(new JobFailure(uri + " is larger than "
                + maxBytes + " bytes (limits.max_checkpoint_bytes)")) : storage.download(uri, file))
        .compose(v -> loader.submit(() -> inspect(file)))
        .onComplete(ar -> loader.submit(() -> Files.deleteIfExists(file)))
        .onSuccess(info -> msg.reply(info.toJson()))
        .onFailure(err -> {
          boolean notAModel = JobFailure.endsTheJob(err);
          if (!notAModel) {
            LOG.warn("could not inspect {}: {}", uri, err.toString());
          }
          msg.fail(notAModel ? CheckpointInfo.NOT_A_MODEL : CheckpointInfo.UNAVAILABLE, JobFailure.describe(err));
        });
  }

  private static CheckpointInfo inspect(Path file) throws ModelException {
    try (InferenceEngine engine = InferenceEngine.load(file, new EngineOptions("cpu", 1, 0, 1, 1))) {
      ModelDescriptor d = engine.descriptor();
      return new CheckpointInfo(d.task(), engine.outputLayout().id(), d.inputWidth(), d.inputHeight(),
          d.classNames());
    }
  }
}
