package io.inferencejobs.api;


import io.inferencejobs.bus.Addresses;
import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.exports.ExportFormat;
import io.inferencejobs.exports.ExportStreamer;
import io.inferencejobs.exports.ExportedImage;
import io.inferencejobs.exports.ImageDrawer;
import io.inferencejobs.jobs.JobFilter;
import io.inferencejobs.jobs.JobService;
import io.inferencejobs.jobs.Page;
import io.inferencejobs.jobs.ResultListing;
import io.inferencejobs.jobs.ResultQuery;
import io.inferencejobs.jobs.Requester;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.inferencejobs.support.Digests;
import io.inferencejobs.webhooks.UrlGuard;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Inference jobs over HTTP: create, list, get, results, cancel, retry, delete, exports, deliveries, input image. The rules live in {@link JobService};
 * here requests are read and answers rendered.
 */
final class JobHandlers {
  private static final Logger LOG = LoggerFactory.getLogger(JobHandlers.class);
  private final Vertx vertx;
  private final ApiContext api;
  private final JobService service;
  /** Exports streaming now, over every API verticle instance of the node. */
  private final java.util.concurrent.atomic.AtomicInteger exportsRunning;

  JobHandlers(Vertx vertx, ApiContext api, JobService service,
              java.util.concurrent.atomic.AtomicInteger exportsRunning) {
    this.vertx = vertx;
    this.exportsRunning = exportsRunning;
    this.api = api;
    this.service = service;
  }

  /** The node's job service, shared by its API instances (what it remembers, such as checkpoints seen, is shared). */
  static JobService service(ApiContext api) {
    UrlGuard guard = new UrlGuard(api.config().results().webhookAllowedHosts());
    // resolving the webhook's host blocks: on the S3 pool, like other blocking calls of a request
    JobService.UrlCheck check = url -> api.io().submit(() -> {
      try {
        guard.check(url);
        return null;
      } catch (UrlGuard.Refused refused) {
        return refused.getMessage();
      }
    });
    return new JobService(api.config(), api.storage(), api.jobs(), api.trainingJobs(), api.uploads(), check);
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
        body.getJsonObject("webhook"), body.getJsonObject("output"), Params.header(ctx, "Idempotency-Key"),
        Digests.sha256Hex(canonical(body)));
    service.create(requester(ctx), request).onSuccess(job -> {
      vertx.eventBus().publish(Addresses.JOBS_WORK, job.id());
      ctx.response().setStatusCode(201).putHeader("Location", JobViews.self(job.id()));
      Http.json(ctx, JobViews.job(job));
    }).onFailure(ctx::fail);
  }

  void list(RoutingContext ctx) {
    int limit = Params.queryInt(ctx, "limit", 100);
    JobFilter filter = new JobFilter(Params.queryLong(ctx, "training_job_id"), Params.queryString(ctx, "status"),
        Params.queryTime(ctx, "created_from"), Params.queryTime(ctx, "created_before"));
    service.list(requester(ctx), filter, Params.cursor(ctx), Params.queryInt(ctx, "skip", 0), limit)
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
    ResultFields fields = ResultFields.parse(Params.queryString(ctx, "include"));
    String sort = Optional.ofNullable(Params.queryString(ctx, "sort")).orElse("index");
    boolean descending = "desc".equals(Params.queryString(ctx, "order"));
    Double minScore = Params.queryDouble(ctx, "min_score");
    ResultQuery query = new ResultQuery(id, after, Params.queryInt(ctx, "skip", 0), limit, sort, descending,
        Params.queryInt(ctx, "class_id", null), minScore, Params.queryBooleanOrNull(ctx, "failed"));
    if (cursor != null && !query.cursorAllowed()) {
      ctx.fail(ApiError.badRequest("cursor", "cursors page results in image order; with sort=" + sort
          + (descending ? " and order=desc" : "") + ", page with skip"));
      return;
    }
    boolean counts = Params.queryBoolean(ctx, "class_counts");
    var listing = api.jobs().resultListing();
    service.get(requester(ctx), id).compose(job -> Future.all(listing.list(query, job.processedImages()),
                counts ? listing.classCounts(id, minScore) : Future.succeededFuture(null))
            .compose(both -> {
              ResultListing.Listing found = both.resultAt(0);
              List<ResultListing.ClassCount> classCounts = both.resultAt(1);
              Page<JsonObject> page = found.page();
              return (fields.isDefault() ? Future.succeededFuture(page)
                  : api.io().submit(() -> new Page<>(page.items().stream().map(fields::apply).toList(),
                      page.nextCursor())))
                  .map(shown -> {
                    JsonObject json = new JsonObject()
                        .put("inference_job_id", job.id())
                        .put("training_job_id", job.trainingJobId())
                        .put("status", job.status().db())
                        .put("total_count", job.processedImages())
                        .put("matched_count", found.matched())
                        .put("total_images", job.totalImages())
                        .put("avg_inference_time_ms", job.avgInferenceTimeMs())
                        .put("results", new JsonArray(shown.items()))
                        .put("next_cursor", shown.nextCursor());
                    if (classCounts != null) {
                      json.put("class_counts", new JsonArray(classCounts.stream().map(c -> new JsonObject()
                          .put("class_id", c.classId()).put("class_name", c.className()).put("count", c.count()))
                          .toList()));
                    }
                    return json;
                  });
            }))
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

  /** Runs a job that ended again on its failed images; 202 with the job, pending again. */
  void retry(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    service.retry(requester(ctx), id)
        .onSuccess(job -> {
          vertx.eventBus().publish(Addresses.JOBS_WORK, job.id());
          ctx.response().setStatusCode(202);
          Http.json(ctx, JobViews.job(job));
        })
        .onFailure(ctx::fail);
  }

  /** Deletes a job that is not running, and everything of it; 204. Its open streams get a deleted event and end. */
  void delete(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    Requester who = requester(ctx);
    service.get(who, id)
        .compose(job -> service.delete(who, id)
            .recover(err -> {
              if (err instanceof JobService.ObjectsLeft left) {
                // the job is gone; what S3 kept is logged, and the answer is the same
                LOG.warn(left.getMessage());
                return Future.succeededFuture();
              }
              return Future.failedFuture(err);
            })
            .map(deleted -> job))
        .onSuccess(job -> {
          vertx.eventBus().publish(Addresses.JOBS_EVENTS, new JobEvent(0, id, job.trainingJobId(), 0,
              JobEvent.DELETED, new JsonObject(), job.tenant()).toJson());
          ctx.response().setStatusCode(204).end();
        })
        .onFailure(ctx::fail);
  }

  /** The job's webhook deliveries and export files, oldest first. */
  void deliveries(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    service.get(requester(ctx), id).compose(job -> api.deliveries().ofJob(id, 1000))
        .onSuccess(list -> Http.json(ctx, new JsonObject().put("inference_job_id", id)
            .put("deliveries", new JsonArray(list))))
        .onFailure(ctx::fail);
  }

  /**
   * A job's results as a file (COCO, YOLO, CSV, JSONL, errors, Label Studio), streamed from PostgreSQL a page at a
   * time with backpressure, whatever the job's size; at most {@code max_concurrent_exports} at once on this node. A
   * job that has not ended exports what is done so far (X-Job-Status says so). A failure once the file has started
   * resets the connection, so a client never takes a cut file for a whole one.
   */
  void export(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    String requested = Params.queryString(ctx, "format");
    ExportFormat format = ExportFormat.parse(requested).orElseThrow(() -> ApiError.badRequest("format",
        "must be one of " + String.join(", ", ExportFormat.ids()) + "; got '" + requested + "'"));
    if (exportsRunning.incrementAndGet() > api.config().results().maxConcurrentExports()) {
      exportsRunning.decrementAndGet();
      ctx.fail(new BoundedExecutor.Overloaded("exports"));
      return;
    }
    HttpServerResponse response = ctx.response();
    service.get(requester(ctx), id)
        .compose(job -> api.jobs().classNames(id).map(names -> {
          response.setChunked(true)
              .putHeader("Content-Type", format.contentType())
              .putHeader("Content-Disposition", "attachment; filename=\"" + format.fileName(id) + "\"")
              .putHeader("X-Job-Status", job.status().db())
              .putHeader("Cache-Control", "no-store");
          return names.orElse(null);
        }))
        .compose(names -> ExportStreamer.run(format.writer(id, names, drawer()),
            (after, limit) -> api.jobs().exportPage(id, after, limit), response)
            .recover(err -> {
              LOG.warn("export of job {} as {} stopped: {}", id, format.id(), err.toString());
              if (!response.closed()) {
                response.reset();
              }
              return Future.succeededFuture(null);
            }))
        .onComplete(ar -> exportsRunning.decrementAndGet())
        .onSuccess(written -> {
          if (written != null && !response.ended() && !response.closed()) {
            response.end();
          }
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
    if (Params.queryBoolean(ctx, "annotated")) {
      annotated(ctx, id, index);
      return;
    }
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

  /**
   * The image with its predictions drawn (JPEG). An image not processed yet is 409; one that failed is 422 with its
   * error; drawing runs on the I/O pool, never on the event loop.
   */
  private void annotated(RoutingContext ctx, long id, int index) {
    service.get(requester(ctx), id)
        .compose(job -> api.jobs().image(id, index).compose(ref -> ref.isEmpty()
            ? Future.failedFuture(ApiError.notFound("image_index", "job " + id + " has no image " + index))
            : api.jobs().exportedImage(id, index)))
        .compose(result -> {
          if (result.isEmpty()) {
            return Future.failedFuture(io.inferencejobs.jobs.JobError.conflict("image_index", "image " + index + " of job " + id + " has no result yet; draw it once it is processed"));
          }
          ExportedImage image = result.get();
          if (image.failed()) {
            return Future.failedFuture(ApiError.unprocessable("image_index", "image " + index + " of job " + id
                + " failed and has nothing to draw: " + image.error()));
          }
          return drawer().draw(image).recover(err -> Future.failedFuture(err instanceof ImageDrawer.NotDrawable
              ? ApiError.unprocessable("image_index", "image " + index + " of job " + id + " cannot be drawn: "
                  + err.getMessage()) : err));
        })
        .onSuccess(jpeg -> ctx.response()
            .putHeader("Content-Type", "image/jpeg")
            .putHeader("Cache-Control", "private, max-age=60")
            .end(io.vertx.core.buffer.Buffer.buffer(jpeg)))
        .onFailure(ctx::fail);
  }

  private ImageDrawer drawer() {
    return ImageDrawer.of(api.storage(), api.io(), api.config().limits().maxImageBytes(),
        api.config().engine().maxPixels());
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
