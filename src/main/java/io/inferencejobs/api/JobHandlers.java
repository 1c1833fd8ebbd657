package io.inferencejobs.api;


import io.inferencejobs.bus.Addresses;
import io.inferencejobs.jobs.JobService;
import io.inferencejobs.jobs.Requester;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.inferencejobs.support.Digests;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Inference jobs over HTTP: create, list, get, results, cancel, input image. The rules live in {@link JobService};
 * here requests are read and answers rendered.
 */
final class JobHandlers {
  private final Vertx vertx;
  private final ApiContext api;
  private final JobService service;

  JobHandlers(Vertx vertx, ApiContext api) {
    this.vertx = vertx;
    this.api = api;
    this.service = new JobService(api.config(), api.storage(), api.jobs(), api.trainingJobs(), api.uploads());
  }

  /** Who is asking, as the application layer sees it. */
  static Requester requester(RoutingContext ctx) {
    Caller c = Caller.of(ctx);
    return c == null ? Requester.OPEN : new Requester(c.keyName(), c.tenant(), Caller.filter(ctx),
        Caller.unrestricted(ctx));
  }

  void create(RoutingContext ctx) {
    JsonObject body = Params.of(ctx).getBody().getJsonObject();
    Params.rejectNul(body, "");
    JobService.CreateJob request = new JobService.CreateJob(body.getLong("training_job_id"),
        body.getString("checkpoint_path"), body.getString("inference_type"), body.getJsonObject("input_data"),
        Params.header(ctx, "Idempotency-Key"), Digests.sha256Hex(canonical(body)));
    service.create(requester(ctx), request).onSuccess(job -> {
      vertx.eventBus().publish(Addresses.JOBS_WORK, job.id());
      ctx.response().setStatusCode(201).putHeader("Location", JobViews.self(job.id()));
      Http.json(ctx, JobViews.job(job));
    }).onFailure(ctx::fail);
  }

  void list(RoutingContext ctx) {
    int limit = Params.queryInt(ctx, "limit", 100);
    service.list(requester(ctx), Params.queryLong(ctx, "training_job_id"), Params.queryString(ctx, "status"),
            Params.cursor(ctx), Params.queryInt(ctx, "skip", 0), limit)
        .onSuccess(page -> Http.json(ctx, new JsonObject()
            .put("jobs", new JsonArray(page.items().stream().map(JobViews::job).toList()))
            .put("next_cursor", page.nextCursor())))
        .onFailure(ctx::fail);
  }

  void get(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    service.get(requester(ctx), id).onSuccess(job -> Http.json(ctx, JobViews.job(job))).onFailure(ctx::fail);
  }

  void results(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    int limit = Params.queryInt(ctx, "limit", 100);
    Long cursor = Params.cursor(ctx);
    int after = cursor == null ? -1 : (int) Math.min(Integer.MAX_VALUE, cursor);
    service.get(requester(ctx), id).compose(job -> api.jobs().results(id, after, Params.queryInt(ctx, "skip", 0),
            limit)
            .map(page -> new JsonObject()
                .put("inference_job_id", job.id())
                .put("training_job_id", job.trainingJobId())
                .put("status", job.status().db())
                .put("total_count", job.processedImages())
                .put("total_images", job.totalImages())
                .put("avg_inference_time_ms", job.avgInferenceTimeMs())
                .put("results", new JsonArray(page.items()))
                .put("next_cursor", page.nextCursor())))
        .onSuccess(json -> Http.json(ctx, json))
        .onFailure(ctx::fail);
  }

  void cancel(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    service.cancel(requester(ctx), id)
        .onSuccess(job -> {
          ctx.response().setStatusCode(202);
          Http.json(ctx, JobViews.job(job));
        })
        .onFailure(ctx::fail);
  }

  /**
   * The stored input image, served only when its bytes decode as an image (a model file named as an image, or bytes
   * behind an image signature, are refused), with nosniff (set for every answer) so no browser guesses otherwise.
   */
  void image(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    int index = Params.pathLong(ctx, "image_index").intValue();
    long maxBytes = api.config().limits().maxImageBytes();
    service.get(requester(ctx), id).compose(job -> api.jobs().image(id, index))
        .compose(ref -> ref.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            ApiError.notFound("image_index", "job " + id + " has no image " + index))))
        .compose(ref -> api.storage().getBytes(S3Uri.parse(ref.s3Uri()).orElseThrow(), maxBytes,
                "limits.max_image_bytes (MAX_IMAGE_BYTES)")
            .recover(err -> Future.failedFuture(err instanceof BoundedExecutor.Overloaded ? err
                : err instanceof S3Storage.TooLarge ? ApiError.unprocessable("image_index", err.getMessage())
                : ApiError.notFound("image_index", "image " + index + " of job " + id + " cannot be read"))))
        .compose(bytes -> api.io().submit(() -> ImageTypes.decodes(bytes).map(type -> Map.entry(type, bytes))
            .orElseThrow(() -> ApiError.unprocessable("image_index", "image " + index + " of job " + id
                + " does not decode as an image; it is not served"))))
        .onSuccess(image -> ctx.response()
            .putHeader("Content-Type", image.getKey().contentType())
            .putHeader("Cache-Control", "private, max-age=3600")
            .end(io.vertx.core.buffer.Buffer.buffer(image.getValue())))
        .onFailure(ctx::fail);
  }

  /** JSON with sorted keys, so that the same request hashes the same whatever its key order. */
  static String canonical(Object value) {
    if (value instanceof JsonObject o) {
      Map<String, Object> sorted = new TreeMap<>(o.getMap());
      StringBuilder sb = new StringBuilder("{");
      sorted.forEach((k, v) -> sb.append(sb.length() > 1 ? "," : "").append(Json.encode(k)).append(':')
          .append(canonical(wrap(v))));
      return sb.append('}').toString();
    }
    if (value instanceof JsonArray a) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < a.size(); i++) {
        sb.append(i > 0 ? "," : "").append(canonical(wrap(a.getValue(i))));
      }
      return sb.append(']').toString();
    }
    return Json.encode(value);
  }

  private static Object wrap(Object v) {
    if (v instanceof Map<?, ?> m) {
      @SuppressWarnings("unchecked")
      Map<String, Object> map = (Map<String, Object>) m;
      return new JsonObject(map);
    }
    if (v instanceof List<?> l) {
      return new JsonArray(new ArrayList<>(l));
    }
    return v;
  }

}
