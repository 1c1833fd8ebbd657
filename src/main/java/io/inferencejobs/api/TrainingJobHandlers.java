package io.inferencejobs.api;

import io.inferencejobs.jobs.CheckpointFormat;

import io.inferencejobs.jobs.TrainingJob;
import io.inferencejobs.jobs.TrainingJobRepository.DuplicateName;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The training-job registry: create, get, list. */
final class TrainingJobHandlers {
  private final ApiContext api;

  TrainingJobHandlers(ApiContext api) {
    this.api = api;
  }

  void create(RoutingContext ctx) {
    JsonObject body = Params.of(ctx).getBody().getJsonObject();
    Params.rejectNul(body, "");
    JsonObject checkpoints = body.getJsonObject("checkpoints", new JsonObject());
    for (Map.Entry<String, Object> e : checkpoints) {
      if (!(e.getValue() instanceof String s) || S3Uri.parse(s).filter(u -> !u.key().isEmpty()).isEmpty()) {
        throw ApiError.badRequest("checkpoints." + e.getKey(), "must be an s3://bucket/key URI");
      }
      String bucket = S3Uri.parse((String) e.getValue()).orElseThrow().bucket();
      if (!api.config().s3().allowed(bucket)) {
        throw ApiError.forbidden("checkpoints." + e.getKey(), "bucket '" + bucket + "' is not one this service may "
            + "read from (s3.allowed_buckets)");
      }
    }
    String name = body.getString("name").strip();
    if (name.isEmpty()) {
      throw ApiError.badRequest("name", "must not be blank");
    }
    checked(checkpoints)
        .compose(ok -> api.trainingJobs().create(name, body.getString("task_type"), body.getJsonArray("class_names"),
            checkpoints))
        .onSuccess(tj -> {
          ctx.response().setStatusCode(201).putHeader("Location", "/api/v1/training_jobs/" + tj.id());
          Http.json(ctx, tj.toJson());
        })
        .onFailure(err -> ctx.fail(err instanceof DuplicateName ? ApiError.conflict("name", err.getMessage()) : err));
  }

  /** Every checkpoint must exist and look like ONNX (a PyTorch file gets the export command), all looked up at once. */
  private Future<Void> checked(JsonObject checkpoints) {
    List<Future<Void>> all = new ArrayList<>();
    for (Map.Entry<String, Object> e : checkpoints) {
      S3Uri uri = S3Uri.parse((String) e.getValue()).orElseThrow();
      String field = "checkpoints." + e.getKey();
      all.add(api.storage().firstBytes(uri, CheckpointFormat.HEAD_BYTES).compose(head -> {
        if (head.isEmpty()) {
          return Future.failedFuture(ApiError.unprocessable(field, uri + " does not exist"));
        }
        String problem = CheckpointFormat.problem(head.get());
        return problem == null ? Future.succeededFuture()
            : Future.failedFuture(ApiError.unprocessable(field, uri + ": " + problem));
      }));
    }
    return Future.all(all).mapEmpty();
  }

  void get(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "training_job_id");
    api.trainingJobs().get(id)
        .compose(tj -> tj.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            ApiError.notFound("training_job_id", "training job " + id + " does not exist"))))
        .onSuccess(tj -> Http.json(ctx, tj.toJson()))
        .onFailure(ctx::fail);
  }

  void list(RoutingContext ctx) {
    api.trainingJobs().list(Params.cursor(ctx), Params.queryInt(ctx, "skip", 0), Params.queryInt(ctx, "limit", 100))
        .onSuccess(page -> Http.json(ctx, new JsonObject()
            .put("training_jobs", new JsonArray(page.items().stream().map(TrainingJob::toJson).toList()))
            .put("next_cursor", page.nextCursor())))
        .onFailure(ctx::fail);
  }
}
