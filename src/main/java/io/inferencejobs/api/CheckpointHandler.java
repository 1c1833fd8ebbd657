package io.inferencejobs.api;

import io.inferencejobs.jobs.CheckpointFormat;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.bus.CheckpointInfo;
import io.inferencejobs.jobs.TaskTypes;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.Digests;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * {@code PUT /api/v1/training_jobs/{training_job_id}/checkpoints/{name}}: bring your own model. The body (the ONNX file)
 * is streamed to a spool file, bounded by {@code limits.max_checkpoint_bytes}, with its SHA-256 computed on the way; a
 * PyTorch file is refused from its first bytes with the command that exports it. The file is stored in S3 under the
 * training job, a worker is asked over the event bus what is inside it (task, layout, input size, classes), and only
 * then is it registered as a checkpoint of the training job. A file no worker can read is removed again (422); with
 * no worker to ask, the answer is 503 and nothing stays.
 */
final class CheckpointHandler {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointHandler.class);
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
  static final long INSPECT_TIMEOUT_MS = 120_000;

  private final Vertx vertx;
  private final ApiContext api;
  private final Function<Caller, Future<Void>> rateLimit;

  CheckpointHandler(Vertx vertx, ApiContext api, Function<Caller, Future<Void>> rateLimit) {
    this.vertx = vertx;
    this.api = api;
    this.rateLimit = rateLimit;
  }

  private record Spooled(Path file, long size, String sha256) {
  }

  void put(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    request.pause();
    long trainingJobId = trainingJobId(ctx.pathParam("training_job_id"));
    String name = ctx.pathParam("name");
    if (name == null || !NAME.matcher(name).matches()) {
      throw ApiError.badRequest("name", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or "
          + "digit; got '" + name + "'");
    }
    long max = api.config().limits().maxCheckpointBytes();
    String length = request.getHeader("Content-Length");
    if (length != null && parseLength(length) > max) {
      throw ApiError.tooLarge("body", "the checkpoint is " + length + " bytes; at most " + max
          + " (limits.max_checkpoint_bytes)");
    }
    Path spool = UploadHandler.spoolDir(api).resolve(UUID.randomUUID() + ".onnx");
    ctx.addEndHandler(ar -> vertx.fileSystem().delete(spool.toString()).recover(e -> Future.succeededFuture()));
    S3Uri target = new S3Uri(api.storage().bucket(), "checkpoints/" + trainingJobId + "/" + name + ".onnx");
    String[] taskType = new String[1];
    rateLimit.apply(Caller.of(ctx))
        .compose(v -> api.trainingJobs().get(trainingJobId))
        .compose(tj -> {
          if (tj.isEmpty()) {
            return Future.<Void>failedFuture(ApiError.notFound("training_job_id", "training job " + trainingJobId
                + " does not exist"));
          }
          taskType[0] = tj.get().taskType();
          return Future.<Void>succeededFuture();
        })
        .compose(v -> spool(ctx, spool, max))
        .compose(file -> api.storage().putFile(target, file.file(), "application/octet-stream")
            .compose(stored -> inspect(target))
            .compose(info -> {
              // a checkpoint of another task would give the training job's users results they do not expect
              String modelTask = TaskTypes.ofModelTask(info.task());
              return taskType[0] == null || taskType[0].equals(modelTask) ? Future.succeededFuture(info)
                  : Future.failedFuture(ApiError.unprocessable("checkpoint_path", "the model is a " + modelTask
                      + " model (" + info.layout() + " layout) but training job " + trainingJobId + " is "
                      + taskType[0] + "; register it under a " + modelTask + " training job"));
            })
            .recover(err -> api.storage().delete(target.bucket(), List.of(target.key()))
                .transform(x -> Future.failedFuture(err)))
            .compose(info -> {
              JsonObject found = info.toJson().put("s3_uri", target.toString()).put("size_bytes", file.size())
                  .put("sha256", file.sha256());
              return api.trainingJobs().putCheckpoint(trainingJobId, name, target.toString(), found)
                  .compose(created -> created.isEmpty() ? Future.failedFuture(ApiError.notFound("training_job_id",
                      "training job " + trainingJobId + " does not exist")) : Future.succeededFuture(
                      new JsonObject().put("training_job_id", trainingJobId).put("name", name).mergeIn(found)
                          .put("created", created.get())));
            }))
        .onSuccess(body -> {
          boolean created = (Boolean) body.remove("created");
          ctx.response().setStatusCode(created ? 201 : 200)
              .putHeader("Location", "/api/v1/training_jobs/" + trainingJobId + "/checkpoints/" + name);
          Http.json(ctx, body);
        })
        .onFailure(err -> {
          if (!ctx.response().ended()) {
            ctx.fail(err);
          }
        });
  }

  /** Asks a worker what is inside; its verdict on a file it cannot read is the answer (422). */
  private Future<CheckpointInfo> inspect(S3Uri uri) {
    return vertx.eventBus().<JsonObject>request(Addresses.CHECKPOINTS_INSPECT,
            new JsonObject().put("s3_uri", uri.toString()), new DeliveryOptions().setSendTimeout(INSPECT_TIMEOUT_MS))
        .map(reply -> CheckpointInfo.fromJson(reply.body()))
        .recover(err -> {
          if (err instanceof ReplyException r && r.failureType() == ReplyFailure.RECIPIENT_FAILURE
              && r.failureCode() == CheckpointInfo.NOT_A_MODEL) {
            return Future.failedFuture(ApiError.unprocessable("body", "the engine cannot read this model: "
                + r.getMessage()));
          }
          if (err instanceof ReplyException r && r.failureType() == ReplyFailure.NO_HANDLERS) {
            return Future.failedFuture(ApiError.unavailable("no worker is running to inspect the checkpoint; retry "
                + "when one is", 30));
          }
          LOG.warn("inspection of {} failed: {}", uri, err.toString());
          return Future.failedFuture(ApiError.unavailable("the checkpoint could not be inspected just now ("
              + err.getMessage() + "); retry later", 10));
        });
  }

  /** Streams the body to {@code file}: bounded, hashed, and refused early when its first bytes are no ONNX. */
  private Future<Spooled> spool(RoutingContext ctx, Path file, long max) {
    HttpServerRequest request = ctx.request();
    Promise<Spooled> done = Promise.promise();
    MessageDigest sha = Digests.sha256();
    byte[] head = new byte[CheckpointFormat.HEAD_BYTES];
    long[] bytes = {0};
    return api.io().submit(() -> Files.createDirectories(file.getParent()))
        .compose(dir -> vertx.fileSystem().open(file.toString(), new OpenOptions().setCreateNew(true).setWrite(true)))
        .compose(out -> {
          // the answer (ErrorHandler) drains the rest of a small body, or closes the connection after a large one
          Runnable refuse = out::close;
          request.handler(data -> {
            if (done.future().isComplete()) {
              return;
            }
            int before = (int) Math.min(bytes[0], head.length);
            bytes[0] += data.length();
            if (before < head.length) {
              byte[] first = data.getBytes(0, Math.min(data.length(), head.length - before));
              System.arraycopy(first, 0, head, before, first.length);
              if (bytes[0] >= head.length) {
                String problem = CheckpointFormat.problem(head);
                if (problem != null) {
                  refuse.run();
                  done.tryFail(ApiError.unprocessable("body", problem));
                  return;
                }
              }
            }
            if (bytes[0] > max) {
              refuse.run();
              done.tryFail(ApiError.tooLarge("body", "the checkpoint exceeds " + max + " bytes "
                  + "(limits.max_checkpoint_bytes)"));
              return;
            }
            sha.update(data.getBytes());
            out.write(data).onFailure(err -> {
              refuse.run();
              done.tryFail(ApiError.unavailable("the server could not spool the checkpoint (" + err.getMessage()
                  + "); retry later", 10));
            });
            if (out.writeQueueFull()) {
              request.pause();
              out.drainHandler(v -> request.resume());
            }
          });
          request.exceptionHandler(err -> {
            out.close();
            done.tryFail(ApiError.badRequest("body", "the checkpoint did not arrive whole ("
                + err.getClass().getSimpleName() + ")"));
          });
          request.endHandler(v -> {
            if (done.future().isComplete()) {
              return;
            }
            String problem = bytes[0] < head.length
                ? CheckpointFormat.problem(java.util.Arrays.copyOf(head, (int) bytes[0])) : null;
            if (problem != null) {
              out.close();
              done.tryFail(ApiError.unprocessable("body", problem));
              return;
            }
            out.close().onSuccess(closed -> done.tryComplete(new Spooled(file, bytes[0],
                    Digests.hex(sha.digest()))))
                .onFailure(err -> done.tryFail(ApiError.unavailable("the server could not spool the checkpoint ("
                    + err.getMessage() + "); retry later", 10)));
          });
          // every check before the body has passed: a client waiting for it may send the body now
          if ("100-continue".equalsIgnoreCase(request.getHeader("Expect"))) {
            request.response().writeContinue();
          }
          request.resume();
          return done.future();
        });
  }

  private static long trainingJobId(String raw) {
    try {
      long id = Long.parseLong(raw);
      if (id < 1) {
        throw new NumberFormatException();
      }
      return id;
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("training_job_id", "must be a positive integer; got '" + raw + "'");
    }
  }

  private static long parseLength(String length) {
    try {
      return Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("Content-Length", "not a number");
    }
  }

}
