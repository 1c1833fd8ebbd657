package io.inferencejobs.api;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.NewJob;
import io.inferencejobs.jobs.TrainingJob;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.pgclient.PgException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
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
    String hash = sha256(canonical(body));
    var key = AuthHandler.principal(ctx);
    String owner = key == null ? null : key.name();
    JsonObject input = body.getJsonObject("input_data");
    long trainingJobId = body.getLong("training_job_id");
    Future<Optional<Job>> replay = idempotencyKey == null ? Future.succeededFuture(Optional.empty())
        : api.jobs().requestHashOf(idempotencyKey).compose(stored -> {
          if (stored.isEmpty()) {
            return Future.succeededFuture(Optional.empty());
          }
          if (!stored.get().equals(hash)) {
            return Future.failedFuture(ApiError.conflict("Idempotency-Key",
                "this key was already used with a different request body"));
          }
          return api.jobs().findByIdempotencyKey(idempotencyKey);
        });
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
            Future<S3Uri> checkpoint = resolveCheckpoint(tj, body.getString("checkpoint_path"));
            Future<List<ImageRef>> sources = resolveImages(source, input);
            return Future.all(checkpoint, sources).compose(both -> {
              List<ImageRef> images = sources.result();
              if ("single".equals(body.getString("inference_type")) && images.size() != 1) {
                return Future.failedFuture(ApiError.unprocessable("inference_type",
                    "'single' takes exactly one image; the image source has " + images.size()));
              }
              NewJob job = new NewJob(trainingJobId, body.getString("checkpoint_path"),
                  checkpoint.result().toString(), body.getString("inference_type"), tj.taskType(), withDefaults(input),
                  idempotencyKey, hash, owner);
              return api.jobs().create(job, images, api.config().worker().chunkSize(),
                      api.config().limits().maxActiveJobsPerKey())
                  .recover(err -> {
                    if (idempotencyKey != null && err instanceof PgException pg && "23505".equals(pg.getSqlState())) {
                      return api.jobs().findByIdempotencyKey(idempotencyKey).map(Optional::orElseThrow);
                    }
                    if (err instanceof JobRepository.TooManyActiveJobs tooMany) {
                      return Future.failedFuture(ApiError.tooManyRequests(null, tooMany.getMessage()
                          + "; retry when one has finished", ACTIVE_JOBS_RETRY_SECONDS));
                    }
                    return Future.failedFuture(err);
                  });
            });
          });
    }).onSuccess(job -> {
      vertx.eventBus().publish(Addresses.JOBS_WORK, job.id());
      ctx.response().setStatusCode(201).putHeader("Location", Job.BASE + job.id());
      Http.json(ctx, job.toJson());
    }).onFailure(ctx::fail);
  }

  void list(RoutingContext ctx) {
    int limit = Params.queryInt(ctx, "limit", 100);
    api.jobs().list(Params.queryLong(ctx, "training_job_id"), Params.queryString(ctx, "status"), Params.cursor(ctx),
            Params.queryInt(ctx, "skip", 0), limit)
        .onSuccess(page -> Http.json(ctx, new JsonObject()
            .put("jobs", new JsonArray(page.items().stream().map(Job::toJson).toList()))
            .put("next_cursor", page.nextCursor())))
        .onFailure(ctx::fail);
  }

  void get(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    job(id).onSuccess(job -> Http.json(ctx, job.toJson())).onFailure(ctx::fail);
  }

  void results(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    int limit = Params.queryInt(ctx, "limit", 100);
    Long cursor = Params.cursor(ctx);
    int after = cursor == null ? -1 : (int) Math.min(Integer.MAX_VALUE, cursor);
    job(id).compose(job -> api.jobs().results(id, after, Params.queryInt(ctx, "skip", 0), limit)
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
    api.jobs().transition(id, JobStatus.CANCELLED, "cancelled on request")
        .compose(moved -> moved.isPresent() ? Future.succeededFuture(moved.get())
            : job(id).compose(job -> Future.<Job>failedFuture(ApiError.conflict("status",
                "job " + id + " is already " + job.status().db() + " and cannot be cancelled"))))
        .onSuccess(job -> {
          ctx.response().setStatusCode(202);
          Http.json(ctx, job.toJson());
        })
        .onFailure(ctx::fail);
  }

  void image(RoutingContext ctx) {
    long id = Params.pathLong(ctx, "inference_job_id");
    int index = Params.pathLong(ctx, "image_index").intValue();
    api.jobs().image(id, index)
        .compose(ref -> ref.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            ApiError.notFound("image_index", "job " + id + " has no image " + index))))
        .compose(ref -> api.storage().getBytes(S3Uri.parse(ref.s3Uri()).orElseThrow()))
        .onSuccess(bytes -> ctx.response()
            .putHeader("Content-Type", ImageTypes.sniff(bytes).map(ImageTypes.ImageType::contentType)
                .orElse("application/octet-stream"))
            .putHeader("Cache-Control", "private, max-age=3600")
            .end(io.vertx.core.buffer.Buffer.buffer(bytes)))
        .onFailure(err -> ctx.fail(err instanceof ApiError ? err
            : ApiError.notFound("image_index", "image " + index + " of job " + id + " cannot be read")));
  }

  private Future<Job> job(long id) {
    return api.jobs().get(id).compose(j -> j.map(Future::succeededFuture).orElseGet(() ->
        Future.failedFuture(ApiError.notFound("inference_job_id", "inference job " + id + " does not exist"))));
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

  private Future<S3Uri> resolveCheckpoint(TrainingJob tj, String checkpoint) {
    S3Uri uri;
    if ("pretrained".equals(checkpoint)) {
      uri = new S3Uri(api.storage().bucket(), api.config().pretrained().s3Key());
    } else if (tj.checkpoints() != null && tj.checkpoints().getValue(checkpoint) instanceof String named) {
      uri = S3Uri.parse(named).orElseThrow(() -> ApiError.unprocessable("checkpoint_path",
          "checkpoint '" + checkpoint + "' of training job " + tj.id() + " is not a valid s3:// URI"));
    } else {
      uri = S3Uri.parse(checkpoint).filter(u -> !u.key().isEmpty()).orElseThrow(() -> ApiError.badRequest(
          "checkpoint_path", "must be \"pretrained\", a checkpoint name of the training job, or s3://bucket/key; got '"
              + checkpoint + "'"));
    }
    allowedBucket(uri, "checkpoint_path");
    Long seen = checkpointsSeen.get(uri.toString());
    if (seen != null && System.nanoTime() - seen < CHECKPOINT_TTL_NANOS) {
      return Future.succeededFuture(uri);
    }
    return api.storage().head(uri).compose(info -> {
      if (info.isEmpty()) {
        checkpointsSeen.remove(uri.toString());
        return Future.failedFuture(ApiError.unprocessable("checkpoint_path", "checkpoint " + uri + " does not exist"));
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

  private Future<List<ImageRef>> resolveImages(String source, JsonObject input) {
    int max = api.config().limits().maxImagesPerJob();
    Future<List<ImageRef>> refs = switch (source) {
      case "image_paths_s3" -> {
        String text = input.getString("image_paths_s3");
        S3Uri prefix = S3Uri.parse(text).orElseThrow(() -> ApiError.badRequest("input_data.image_paths_s3",
            "must be an s3://bucket/prefix URI; got '" + text + "'"));
        allowedBucket(prefix, "input_data.image_paths_s3");
        yield api.storage().listKeys(prefix, max).map(keys -> {
          List<ImageRef> out = new ArrayList<>();
          for (String key : keys) {
            if (ImageTypes.hasImageExtension(key)) {
              S3Uri u = new S3Uri(prefix.bucket(), key);
              out.add(new ImageRef(out.size(), u.toString(), u.fileName()));
            }
          }
          if (out.isEmpty()) {
            throw ApiError.unprocessable("input_data.image_paths_s3", "no images (.jpg, .jpeg, .png, .bmp, .webp) "
                + "under " + prefix);
          }
          return out;
        });
      }
      case "image_uris" -> {
        JsonArray uris = input.getJsonArray("image_uris");
        List<ImageRef> out = new ArrayList<>();
        for (int i = 0; i < uris.size(); i++) {
          Object v = uris.getValue(i);
          int at = i;
          S3Uri u = S3Uri.parse(v instanceof String s ? s : null).filter(x -> !x.key().isEmpty())
              .orElseThrow(() -> ApiError.badRequest("input_data.image_uris[" + at + "]",
                  "must be an s3://bucket/key URI; got '" + v + "'"));
          allowedBucket(u, "input_data.image_uris[" + at + "]");
          out.add(new ImageRef(i, u.toString(), u.fileName()));
        }
        yield Future.succeededFuture(out);
      }
      default -> {
        String text = input.getString("inference_session_id");
        UUID session;
        try {
          session = UUID.fromString(text);
        } catch (IllegalArgumentException e) {
          throw ApiError.badRequest("input_data.inference_session_id", "must be a UUID; got '" + text + "'");
        }
        yield api.uploads().files(session).map(files -> {
          if (files.isEmpty()) {
            throw ApiError.unprocessable("input_data.inference_session_id",
                "inference session " + session + " has no uploaded images");
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
      return api.uploads().originalNames(list.stream().map(ImageRef::s3Uri).toList()).map(names -> list.stream()
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

  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
