package io.inferencejobs.api;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.NewJob;
import io.inferencejobs.jobs.TenantFilter;
import io.inferencejobs.jobs.TrainingJob;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/** Inference jobs: create, list, get, results, cancel, input image. */
final class JobHandlers {
  static final double DEFAULT_CONFIDENCE = 0.25;
  static final double DEFAULT_IOU = 0.45;
  static final int DEFAULT_MAX_DETECTIONS = 100;

  /** A checkpoint seen in S3 this recently is not looked up again (job creation stays cheap under load). */
  static final long CHECKPOINT_TTL_NANOS = 10_000_000_000L;
  /** A key at its active-job limit is told to come back after this long (jobs take seconds to minutes). */
  static final int ACTIVE_JOBS_RETRY_SECONDS = 10;

  private final Vertx vertx;
  private final ApiContext api;
  /** Checkpoint URI to when it was last seen to exist; used on this verticle's event loop only. */
  private final Map<String, Long> checkpointsSeen = new java.util.HashMap<>();

  JobHandlers(Vertx vertx, ApiContext api) {
    this.vertx = vertx;
    this.api = api;
  }

  void create(RoutingContext ctx) {
    JsonObject body = Params.of(ctx).getBody().getJsonObject();
    Params.rejectNul(body, "");
    String idempotencyKey = Params.header(ctx, "Idempotency-Key");
    String hash = io.inferencejobs.support.Digests.sha256Hex(canonical(body));
    Caller caller = Caller.of(ctx);
    String tenant = Caller.tenant(ctx);
    Access access = new Access(Caller.filter(ctx), Caller.unrestricted(ctx));
    JsonObject input = body.getJsonObject("input_data");
    long trainingJobId = body.getLong("training_job_id");
    // a replay is answered before anything is resolved again
    Future<Optional<Job>> replay = idempotencyKey == null ? Future.succeededFuture(Optional.empty())
        : api.jobs().findByIdempotencyKey(tenant, idempotencyKey, hash);
    replay.compose(existing -> {
      if (existing.isPresent()) {
        return Future.succeededFuture(existing.get());
      }
      String source = imageSource(input);
      return api.trainingJobs().get(trainingJobId)
          .compose(tj -> tj.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
              ApiError.notFound("training_job_id", "training job " + trainingJobId + " does not exist"))))
          .compose(tj -> {
            // the checkpoint and the images are looked up in S3 at the same time
            Future<S3Uri> checkpoint = resolveCheckpoint(tj, body.getString("checkpoint_path"), access);
            Future<List<ImageRef>> sources = resolveImages(source, input, access);
            return Future.all(checkpoint, sources).compose(both -> {
              List<ImageRef> images = sources.result();
              if ("single".equals(body.getString("inference_type")) && images.size() != 1) {
                return Future.failedFuture(ApiError.unprocessable("inference_type",
                    "'single' takes exactly one image; the image source has " + images.size()));
              }
              NewJob job = new NewJob(trainingJobId, body.getString("checkpoint_path"),
                  checkpoint.result().toString(), body.getString("inference_type"), tj.taskType(), withDefaults(input),
                  idempotencyKey, hash, caller == null ? null : caller.keyName(), tenant);
              return api.jobs().create(job, images, api.config().worker().chunkSize(),
                  api.config().limits().maxActiveJobsPerTenant());
            });
          });
    }).recover(err -> Future.failedFuture(
        err instanceof JobRepository.IdempotencyConflict c ? ApiError.conflict("Idempotency-Key", c.getMessage())
            : err instanceof JobRepository.TooManyActiveJobs tooMany ? ApiError.tooManyRequests(null,
                tooMany.getMessage() + "; retry when one has finished", ACTIVE_JOBS_RETRY_SECONDS)
            : err))
        .onSuccess(job -> {
          vertx.eventBus().publish(Addresses.JOBS_WORK, job.id());
          ctx.response().setStatusCode(201).putHeader("Location", Job.BASE + job.id());
          Http.json(ctx, job.toJson());
        }).onFailure(ctx::fail);
  }

  /** What a request may read: whose uploads, and whether any object of the allowed buckets. */
  private record Access(TenantFilter tenant, boolean anyObject) {
  }

  void list(RoutingContext ctx) {
    int limit = Params.queryInt(ctx, "limit", 100);
    api.jobs().list(Caller.filter(ctx), Params.queryLong(ctx, "training_job_id"), Params.queryString(ctx, "status"),
            Params.cursor(ctx), Params.queryInt(ctx, "skip", 0), limit)
        .onSuccess(page -> Http.json(ctx, new JsonObject()
            .put("jobs", new JsonArray(page.items().stream().map(Job::toJson).toList()))
            .put("next_cursor", page.nextCursor())))
        .onFailure(ctx::fail);
  }

  void get(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    job(ctx, id).onSuccess(job -> Http.json(ctx, job.toJson())).onFailure(ctx::fail);
  }

  void results(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    int limit = Params.queryInt(ctx, "limit", 100);
    Long cursor = Params.cursor(ctx);
    int after = cursor == null ? -1 : (int) Math.min(Integer.MAX_VALUE, cursor);
    job(ctx, id).compose(job -> api.jobs().results(id, after, Params.queryInt(ctx, "skip", 0), limit)
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
    // the caller must see the job before it may touch it: another tenant's job answers 404 like a missing one
    job(ctx, id).compose(visible -> api.jobs().transition(id, JobStatus.CANCELLED, "cancelled on request"))
        .compose(moved -> moved.isPresent() ? Future.succeededFuture(moved.get())
            : job(ctx, id).compose(job -> Future.<Job>failedFuture(ApiError.conflict("status",
                "job " + id + " is already " + job.status().db() + " and cannot be cancelled"))))
        .onSuccess(job -> {
          ctx.response().setStatusCode(202);
          Http.json(ctx, job.toJson());
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
    job(ctx, id).compose(job -> api.jobs().image(id, index))
        .compose(ref -> ref.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            ApiError.notFound("image_index", "job " + id + " has no image " + index))))
        .compose(ref -> api.storage().getBytes(S3Uri.parse(ref.s3Uri()).orElseThrow())
            .recover(err -> Future.failedFuture(err instanceof BoundedExecutor.Overloaded ? err
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

  /** The job, if the caller may see it; otherwise 404, the same as for a job that does not exist. */
  private Future<Job> job(RoutingContext ctx, long id) {
    TenantFilter visible = Caller.filter(ctx);
    return api.jobs().get(id).compose(j -> j.filter(job -> visible.sees(job.tenant())).map(Future::succeededFuture)
        .orElseGet(() -> Future.failedFuture(ApiError.notFound("inference_job_id",
            "inference job " + id + " does not exist"))));
  }

  /** Exactly one image source; returns its field name. */
  private static String imageSource(JsonObject input) {
    List<String> present = new ArrayList<>();
    for (String f : List.of("image_paths_s3", "image_uris", "inference_session_id")) {
      if (input.getValue(f) != null) {
        present.add(f);
      }
    }
    if (present.size() != 1) {
      throw ApiError.badRequest("input_data", "exactly one image source is required: image_paths_s3, image_uris or "
          + "inference_session_id" + (present.isEmpty() ? "" : " (found " + String.join(", ", present) + ")"));
    }
    return present.get(0);
  }

  /**
   * {@code pretrained}, a checkpoint registered on the training job, or (admin keys only) an {@code s3://} object of
   * an allowed bucket. Registering a checkpoint is an admin act, so a write key runs only models an admin vetted.
   */
  private Future<S3Uri> resolveCheckpoint(TrainingJob tj, String checkpoint, Access access) {
    S3Uri uri;
    if ("pretrained".equals(checkpoint)) {
      uri = new S3Uri(api.storage().bucket(), api.config().pretrained().s3Key());
    } else if (tj.checkpoints() != null && tj.checkpoints().getValue(checkpoint) instanceof String named) {
      uri = S3Uri.parse(named).orElseThrow(() -> ApiError.unprocessable("checkpoint_path",
          "checkpoint '" + checkpoint + "' of training job " + tj.id() + " is not a valid s3:// URI"));
    } else {
      uri = S3Uri.parse(checkpoint).filter(u -> !u.key().isEmpty()).orElseThrow(() -> ApiError.badRequest(
          "checkpoint_path", "must be \"pretrained\", a checkpoint name of the training job, or s3://bucket/key "
              + "(without empty, . or .. segments); got '" + checkpoint + "'"));
      if (!access.anyObject()) {
        throw ApiError.forbidden("checkpoint_path", "running an s3:// object as a model needs the admin scope; name "
            + "one of the training job's checkpoints (registered by an admin) or \"pretrained\"");
      }
    }
    allowedBucket(uri, "checkpoint_path");
    Long seen = checkpointsSeen.get(uri.toString());
    if (seen != null && System.nanoTime() - seen < CHECKPOINT_TTL_NANOS) {
      return Future.succeededFuture(uri);
    }
    return api.storage().firstBytes(uri, CheckpointFormat.HEAD_BYTES).compose(head -> {
      if (head.isEmpty()) {
        checkpointsSeen.remove(uri.toString());
        return Future.failedFuture(ApiError.unprocessable("checkpoint_path", "checkpoint " + uri + " does not exist"));
      }
      String problem = CheckpointFormat.problem(head.get());
      if (problem != null) {
        return Future.failedFuture(ApiError.unprocessable("checkpoint_path", "checkpoint " + uri + ": " + problem));
      }
      if (checkpointsSeen.size() > 10_000) {
        checkpointsSeen.clear();
      }
      checkpointsSeen.put(uri.toString(), System.nanoTime());
      return Future.succeededFuture(uri);
    });
  }

  /** No reading of arbitrary buckets through a crafted URI: only the configured ones (s3.allowed_buckets). */
  private void allowedBucket(S3Uri uri, String field) {
    if (!api.config().s3().allowed(uri.bucket())) {
      throw ApiError.forbidden(field, "bucket '" + uri.bucket() + "' is not one this service may read from "
          + "(s3.allowed_buckets)");
    }
  }

  /** Under one of the prefixes every write key may read (s3.shared_inputs). */
  private boolean shared(S3Uri uri) {
    return api.config().s3().sharedInputs().stream().anyMatch(uri::under);
  }

  private static ApiError notReadable(String field) {
    return ApiError.forbidden(field, "keys without the admin scope read images from their own uploads "
        + "(inference_session_id, or the s3:// URIs an upload returned) or from the shared inputs (s3.shared_inputs)");
  }

  /** The upload session a prefix lies in ({@code s3://<own bucket>/inference/<session>/...}), if it names one. */
  private Optional<UUID> sessionOf(S3Uri prefix) {
    String[] parts = prefix.key().split("/", 3);
    if (!prefix.bucket().equals(api.storage().bucket()) || parts.length < 3 || !parts[0].equals("inference")) {
      return Optional.empty();
    }
    try {
      return Optional.of(UUID.fromString(parts[1]));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private Future<List<ImageRef>> resolveImages(String source, JsonObject input, Access access) {
    int max = api.config().limits().maxImagesPerJob();
    Future<List<ImageRef>> refs = switch (source) {
      case "image_paths_s3" -> {
        String field = "input_data.image_paths_s3";
        String text = input.getString("image_paths_s3");
        S3Uri prefix = S3Uri.parse(text).orElseThrow(() -> ApiError.badRequest(field,
            "must be an s3://bucket/prefix URI without empty, . or .. segments; got '" + text + "'"));
        allowedBucket(prefix, field);
        Future<Void> readable = Future.succeededFuture();
        if (!access.anyObject() && !shared(prefix)) {
          Optional<UUID> session = sessionOf(prefix);
          readable = session.isEmpty() ? Future.failedFuture(notReadable(field))
              : api.uploads().visibleSession(access.tenant(), session.get()).compose(mine -> mine
                  ? Future.<Void>succeededFuture() : Future.failedFuture(notReadable(field)));
        }
        yield readable.compose(ok -> api.storage().listKeys(prefix, max)).map(keys -> {
          List<ImageRef> out = new ArrayList<>();
          for (String key : keys) {
            if (ImageTypes.hasImageExtension(key)) {
              S3Uri u = new S3Uri(prefix.bucket(), key);
              out.add(new ImageRef(out.size(), u.toString(), u.fileName()));
            }
          }
          if (out.isEmpty()) {
            throw ApiError.unprocessable(field, "no images (.jpg, .jpeg, .png, .bmp, .webp) under " + prefix);
          }
          return out;
        });
      }
      case "image_uris" -> {
        JsonArray uris = input.getJsonArray("image_uris");
        List<ImageRef> out = new ArrayList<>();
        List<String> unshared = new ArrayList<>();
        for (int i = 0; i < uris.size(); i++) {
          Object v = uris.getValue(i);
          int at = i;
          S3Uri u = S3Uri.parse(v instanceof String s ? s : null).filter(x -> !x.key().isEmpty())
              .orElseThrow(() -> ApiError.badRequest("input_data.image_uris[" + at + "]",
                  "must be an s3://bucket/key URI without empty, . or .. segments; got '" + v + "'"));
          allowedBucket(u, "input_data.image_uris[" + at + "]");
          out.add(new ImageRef(i, u.toString(), u.fileName()));
          if (!access.anyObject() && !shared(u)) {
            unshared.add(u.toString());
          }
        }
        yield unshared.isEmpty() ? Future.succeededFuture(out)
            : api.uploads().visibleFiles(access.tenant(), unshared).compose(mine -> {
              for (ImageRef r : out) {
                if (unshared.contains(r.s3Uri()) && !mine.contains(r.s3Uri())) {
                  return Future.failedFuture(notReadable("input_data.image_uris[" + r.index() + "]"));
                }
              }
              return Future.succeededFuture(out);
            });
      }
      default -> {
        String field = "input_data.inference_session_id";
        String text = input.getString("inference_session_id");
        UUID session;
        try {
          session = UUID.fromString(text);
        } catch (IllegalArgumentException e) {
          throw ApiError.badRequest(field, "must be a UUID; got '" + text + "'");
        }
        // another tenant's session is, to this caller, a session that does not exist
        yield api.uploads().files(access.tenant(), session).map(files -> {
          if (files.isEmpty()) {
            throw ApiError.notFound(field, "inference session " + session + " does not exist");
          }
          return files;
        });
      }
    };
    return refs.compose(list -> {
      if (list.size() > max) {
        throw ApiError.unprocessable("input_data", "the image source has more than " + max
            + " images, the most one job takes");
      }
      if (source.equals("inference_session_id")) {
        return Future.succeededFuture(list);
      }
      // images that came through the upload API keep the name their owner gave them
      return api.uploads().originalNames(access.tenant(), list.stream().map(ImageRef::s3Uri).toList())
          .map(names -> list.stream()
              .map(r -> new ImageRef(r.index(), r.s3Uri(), names.getOrDefault(r.s3Uri(), r.name()))).toList());
    });
  }

  static JsonObject withDefaults(JsonObject input) {
    JsonObject out = input.copy();
    if (out.getValue("confidence_threshold") == null) {
      out.put("confidence_threshold", DEFAULT_CONFIDENCE);
    }
    if (out.getValue("iou_threshold") == null) {
      out.put("iou_threshold", DEFAULT_IOU);
    }
    if (out.getValue("max_detections") == null) {
      out.put("max_detections", DEFAULT_MAX_DETECTIONS);
    }
    if (out.getValue("agnostic_nms") == null) {
      out.put("agnostic_nms", false);
    }
    return out;
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
