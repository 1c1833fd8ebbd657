package io.inferencejobs.jobs;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.ImageFormat;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The rules of a job, in one place, for the API (and anything else that makes jobs): creation with idempotency, the
 * checkpoint and the images resolved and checked against what the requester may read, the limits, and the per-tenant
 * view of get, list and cancel. It fails with {@link JobError}s, which know nothing of HTTP. Call each instance from
 * one event loop (its checkpoint cache is not shared across threads).
 */
public final class JobService {
  /** A checkpoint seen in S3 this recently is not looked up again (job creation stays cheap under load). */
  static final long CHECKPOINT_TTL_NANOS = 10_000_000_000L;
  /** A tenant at its active-job limit is told to come back after this long (jobs take seconds to minutes). */
  public static final int ACTIVE_JOBS_RETRY_SECONDS = 10;

  private final AppConfig config;
  private final S3Storage storage;
  private final JobRepository jobs;
  private final TrainingJobRepository trainingJobs;
  private final UploadRepository uploads;
  private final UrlCheck urlCheck;
  /** Checkpoints found in S3 lately; the service is shared by a node's API instances, so this map is concurrent. */
  private final Map<String, Long> checkpointsSeen = new java.util.concurrent.ConcurrentHashMap<>();

  /** Says what is wrong with a webhook URL (succeeds with null when nothing is); may resolve names. */
  @FunctionalInterface
  public interface UrlCheck {
    Future<String> problem(String url);
  }

  public JobService(AppConfig config, S3Storage storage, JobRepository jobs, TrainingJobRepository trainingJobs,
                    UploadRepository uploads, UrlCheck urlCheck) {
    this.config = config;
    this.storage = storage;
    this.jobs = jobs;
    this.trainingJobs = trainingJobs;
    this.uploads = uploads;
    this.urlCheck = urlCheck;
  }

  /**
   * A job to create: the request as validated against the contract. {@code requestHash} identifies its body, so that
   * a retry with the same {@code idempotencyKey} gets the same job and another body a conflict.
   */
  public record CreateJob(long trainingJobId, String checkpointPath, String inferenceType, JsonObject inputData,
                          JsonObject webhook, JsonObject output, String idempotencyKey, String requestHash) {
  }

  /** The webhook events a job gets when its request names none. */
  public static final List<String> DEFAULT_WEBHOOK_EVENTS = List.of("completed", "failed", "cancelled");

  /** Creates the job (or, for a retried idempotent request, returns the one it made). */
  public Future<Job> create(Requester who, CreateJob request) {
    Future<Optional<Job>> replay = request.idempotencyKey() == null ? Future.succeededFuture(Optional.empty())
        : jobs.findByIdempotencyKey(who.tenant(), request.idempotencyKey(), request.requestHash());
    return replay.compose(existing -> existing.isPresent() ? Future.succeededFuture(existing.get())
            : resolveAndStore(who, request))
        .recover(err -> Future.failedFuture(
            err instanceof JobRepository.IdempotencyConflict c ? JobError.conflict("Idempotency-Key", c.getMessage())
                : err instanceof JobRepository.TooManyActiveJobs tooMany ? JobError.tooMany(tooMany.getMessage()
                    + "; retry when one has finished", ACTIVE_JOBS_RETRY_SECONDS)
                : err));
  }

  private Future<Job> resolveAndStore(Requester who, CreateJob request) {
    JsonObject input = request.inputData();
    String source = imageSource(input);
    long trainingJobId = request.trainingJobId();
    JsonObject output = output(request.output(), who);
    // the images are looked up while the training job and then its checkpoint are; the training job's answer
    // comes first (a job of a training job that does not exist is 404 whatever its images)
    Future<List<ImageRef>> sources = Future.<Void>succeededFuture().compose(v -> resolveImages(source, input, who));
    return webhook(request.webhook()).compose(webhook -> trainingJobs.cached(trainingJobId)
        .compose(tj -> tj.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            JobError.notFound("training_job_id", "training job " + trainingJobId + " does not exist"))))
        .compose(tj -> {
          Future<S3Uri> checkpoint = resolveCheckpoint(tj, request.checkpointPath(), who);
          return Future.all(checkpoint, sources).compose(both -> {
            List<ImageRef> images = sources.result();
            if ("single".equals(request.inferenceType()) && images.size() != 1) {
              return Future.failedFuture(JobError.unprocessable("inference_type",
                  "'single' takes exactly one image; the image source has " + images.size()));
            }
            NewJob job = new NewJob(trainingJobId, request.checkpointPath(), checkpoint.result().toString(),
                request.inferenceType(), taskType(tj, request.checkpointPath()), InferenceSettings.withDefaults(input),
                request.idempotencyKey(), request.requestHash(), who.keyName(), who.tenant(), webhook, output);
            return jobs.create(job, images, config.worker().chunkSize(), config.limits().maxActiveJobsPerTenant());
          });
        }));
  }

  /** The task of the model a job runs: what a worker found in a registered checkpoint, else the training job's. */
  static String taskType(TrainingJob tj, String checkpointPath) {
    JsonObject info = tj.checkpointInfo() == null ? null : tj.checkpointInfo().getJsonObject(checkpointPath);
    String fromModel = info == null ? null : TaskTypes.ofModelTask(info.getString("task"));
    return fromModel != null ? fromModel : tj.taskType();
  }

  /** The webhook as stored ({url, secret, events}), its secret and URL checked; null when the job has none. */
  private Future<JsonObject> webhook(JsonObject hook) {
    if (hook == null) {
      return Future.succeededFuture();
    }
    String secretProblem = io.inferencejobs.webhooks.Webhooks.secretProblem(hook.getString("secret"));
    if (secretProblem != null) {
      return Future.failedFuture(JobError.invalid("webhook.secret", secretProblem));
    }
    JsonArray events = hook.getJsonArray("events");
    JsonArray stored = events == null || events.isEmpty() ? new JsonArray(DEFAULT_WEBHOOK_EVENTS) : events;
    String url = hook.getString("url");
    return urlCheck.problem(url).compose(problem -> problem != null
        ? Future.failedFuture(JobError.invalid("webhook.url", problem))
        : Future.succeededFuture(new JsonObject().put("url", url).put("secret", hook.getString("secret"))
            .put("events", stored)));
  }

  /**
   * Export files written when the job ends, as stored ({s3_prefix ending in /, formats}); null when none. A key
   * without the admin scope writes only under its tenant's exports prefix of the service's bucket, so that no job
   * can overwrite uploads, checkpoints or another tenant's files.
   */
  private JsonObject output(JsonObject output, Requester who) {
    if (output == null) {
      return null;
    }
    String field = "output.s3_prefix";
    String text = output.getString("s3_prefix");
    S3Uri prefix = S3Uri.parse(text).orElseThrow(() -> JobError.invalid(field,
        "must be an s3://bucket/prefix URI without empty, . or .. segments; got '" + text + "'"));
    allowedBucket(prefix, field);
    String own = exportsPrefix(who);
    String key = prefix.key().isEmpty() || prefix.key().endsWith("/") ? prefix.key() : prefix.key() + "/";
    if (!who.anyObject() && !(prefix.bucket().equals(storage.bucket()) && key.startsWith(own))) {
      throw JobError.forbidden(field, "keys without the admin scope write export files under s3://"
          + storage.bucket() + "/" + own + " (their tenant's exports prefix)");
    }
    // nobody's export files land among uploads, checkpoints or models
    if (prefix.bucket().equals(storage.bucket())) {
      for (String reserved : List.of("inference/", "checkpoints/", "models/")) {
        if (key.startsWith(reserved)) {
          throw JobError.forbidden(field, "s3://" + storage.bucket() + "/" + reserved + " holds the service's "
              + "uploads, checkpoints and models; write export files elsewhere (exports/ is made for them)");
        }
      }
    }
    return new JsonObject().put("s3_prefix", new S3Uri(prefix.bucket(), key).toString())
        .put("formats", output.getJsonArray("formats"));
  }

  /** Where a requester's export files may go in the service's bucket: exports/<tenant>/. */
  public static String exportsPrefix(Requester who) {
    return "exports/" + (who.tenant() == null ? "default" : who.tenant()) + "/";
  }

  /**
   * Runs a job that ended again on its failed (and never processed) images; the results of the images that
   * succeeded stay. 409 while it is pending or running, when it was cancelled, or when nothing failed.
   */
  public Future<Job> retry(Requester who, long id) {
    return get(who, id).compose(visible -> jobs.retryFailed(id))
        .compose(moved -> moved.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            JobError.notFound("inference_job_id", "inference job " + id + " does not exist"))))
        .recover(err -> Future.failedFuture(err instanceof JobRepository.Refused r
            ? JobError.conflict("status", r.getMessage()) : err));
  }

  /**
   * Deletes a job that is not pending or running, everything stored about it, and the uploaded images no other job
   * uses (their records in the same transaction, their objects right after). 409 while it may still run.
   */
  public Future<JobRepository.Deleted> delete(Requester who, long id) {
    return get(who, id).compose(visible -> purge(id))
        .compose(deleted -> deleted.map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
            JobError.notFound("inference_job_id", "inference job " + id + " does not exist"))))
        .recover(err -> Future.failedFuture(err instanceof JobRepository.Refused r
            ? JobError.conflict("status", r.getMessage()) : err));
  }

  /** Deletes a job and its unused uploaded objects, whoever owns it (retention). */
  public Future<Optional<JobRepository.Deleted>> purge(long id) {
    return jobs.delete(id).compose(deleted -> {
      if (deleted.isEmpty() || deleted.get().uploadedObjects().isEmpty()) {
        return Future.succeededFuture(deleted);
      }
      Map<String, List<String>> byBucket = new HashMap<>();
      for (String uri : deleted.get().uploadedObjects()) {
        S3Uri.parse(uri).ifPresent(u -> byBucket.computeIfAbsent(u.bucket(), b -> new ArrayList<>()).add(u.key()));
      }
      List<Future<Void>> removals = new ArrayList<>();
      byBucket.forEach((bucket, keys) -> removals.add(storage.delete(bucket, keys)));
      // the rows are gone; an object S3 failed to remove now is logged by the caller, never resurrected
      return Future.join(removals).transform(ar -> ar.succeeded() ? Future.succeededFuture(deleted)
          : Future.failedFuture(new ObjectsLeft(id, deleted.get().uploadedObjects().size(), ar.cause())));
    });
  }

  /** The job is deleted, but S3 did not remove (all of) its uploaded objects. */
  public static final class ObjectsLeft extends RuntimeException {
    public ObjectsLeft(long jobId, int count, Throwable cause) {
      super("job " + jobId + " was deleted, but removing its " + count + " uploaded objects from S3 failed: "
          + cause.getMessage(), cause, false, false);
    }
  }

  /** The job, if the requester may see it; otherwise not found, the same as a job that does not exist. */
  public Future<Job> get(Requester who, long id) {
    return jobs.get(id).compose(j -> j.filter(job -> who.visible().sees(job.tenant())).map(Future::succeededFuture)
        .orElseGet(() -> Future.failedFuture(JobError.notFound("inference_job_id",
            "inference job " + id + " does not exist"))));
  }

  public Future<Page<Job>> list(Requester who, JobFilter filter, Long beforeId, int skip, int limit) {
    return jobs.list(who.visible(), filter, beforeId, skip, limit);
  }

  /** Cancels a job the requester may see: a pending one at once, a running one after its current batch. */
  public Future<Job> cancel(Requester who, long id) {
    return get(who, id).compose(visible -> jobs.transition(id, JobStatus.CANCELLED, "cancelled on request"))
        .compose(moved -> moved.isPresent() ? Future.succeededFuture(moved.get())
            : get(who, id).compose(job -> Future.failedFuture(JobError.conflict("status",
                "job " + id + " is already " + job.status().db() + " and cannot be cancelled"))));
  }

  /** Exactly one image source; returns its field name. */
  private static String imageSource(JsonObject input) {
    List<String> present = new ArrayList<>();
    for (String f : List.of("image_paths_s3", "image_uris", "inference_session_id")) {
      // an empty list is no source: clients generated from the contract send one for each list they were not given
      Object v = input.getValue(f);
      if (v != null && !(v instanceof JsonArray a && a.isEmpty())) {
        present.add(f);
      }
    }
    if (present.size() != 1) {
      throw JobError.invalid("input_data", "exactly one image source is required: image_paths_s3, image_uris or "
          + "inference_session_id" + (present.isEmpty() ? "" : " (found " + String.join(", ", present) + ")"));
    }
    return present.get(0);
  }

  /**
   * {@code pretrained}, a checkpoint registered on the training job, or (requesters that may name any object only) an
   * {@code s3://} object of an allowed bucket. Registering a checkpoint is an admin act, so a write key runs only
   * models an admin vetted. The checkpoint must exist and start like an ONNX file.
   */
  private Future<S3Uri> resolveCheckpoint(TrainingJob tj, String checkpoint, Requester who) {
    S3Uri uri;
    if ("pretrained".equals(checkpoint)) {
      uri = new S3Uri(storage.bucket(), config.pretrained().s3Key());
    } else if (tj.checkpoints() != null && tj.checkpoints().getValue(checkpoint) instanceof String named) {
      uri = S3Uri.parse(named).orElseThrow(() -> JobError.unprocessable("checkpoint_path",
          "checkpoint '" + checkpoint + "' of training job " + tj.id() + " is not a valid s3:// URI"));
    } else {
      uri = S3Uri.parse(checkpoint).filter(u -> !u.key().isEmpty()).orElseThrow(() -> JobError.invalid(
          "checkpoint_path", "must be \"pretrained\", a checkpoint name of the training job, or s3://bucket/key "
              + "(without empty, . or .. segments); got '" + checkpoint + "'"));
      if (!who.anyObject()) {
        throw JobError.forbidden("checkpoint_path", "running an s3:// object as a model needs the admin scope; name "
            + "one of the training job's checkpoints (registered by an admin) or \"pretrained\"");
      }
    }
    allowedBucket(uri, "checkpoint_path");
    Long seen = checkpointsSeen.get(uri.toString());
    if (seen != null && System.nanoTime() - seen < CHECKPOINT_TTL_NANOS) {
      return Future.succeededFuture(uri);
    }
    return storage.firstBytes(uri, CheckpointFormat.HEAD_BYTES).compose(head -> {
      if (head.isEmpty()) {
        checkpointsSeen.remove(uri.toString());
        return Future.failedFuture(JobError.unprocessable("checkpoint_path", "checkpoint " + uri + " does not exist"));
      }
      String problem = CheckpointFormat.problem(head.get());
      if (problem != null) {
        return Future.failedFuture(JobError.unprocessable("checkpoint_path", "checkpoint " + uri + ": " + problem));
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
    if (!config.s3().allowed(uri.bucket())) {
      throw JobError.forbidden(field, "bucket '" + uri.bucket() + "' is not one this service may read from "
          + "(s3.allowed_buckets)");
    }
  }

  /** Under one of the prefixes every write key may read (s3.shared_inputs). */
  private boolean shared(S3Uri uri) {
    return config.s3().sharedInputs().stream().anyMatch(uri::under);
  }

  private static JobError notReadable(String field) {
    return JobError.forbidden(field, "keys without the admin scope read images from their own uploads "
        + "(inference_session_id, or the s3:// URIs an upload returned) or from the shared inputs (s3.shared_inputs)");
  }

  /** The upload session a prefix lies in ({@code s3://<own bucket>/inference/<session>/...}), if it names one. */
  private Optional<UUID> sessionOf(S3Uri prefix) {
    String[] parts = prefix.key().split("/", 3);
    if (!prefix.bucket().equals(storage.bucket()) || parts.length < 3 || !parts[0].equals("inference")) {
      return Optional.empty();
    }
    try {
      return Optional.of(UUID.fromString(parts[1]));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private Future<List<ImageRef>> resolveImages(String source, JsonObject input, Requester who) {
    int max = config.limits().maxImagesPerJob();
    Future<List<ImageRef>> refs = switch (source) {
      case "image_paths_s3" -> prefixImages(input.getString("image_paths_s3"), who, max);
      case "image_uris" -> listedImages(input.getJsonArray("image_uris"), who);
      default -> sessionImages(input.getString("inference_session_id"), who);
    };
    return refs.compose(list -> {
      if (list.size() > max) {
        throw JobError.unprocessable("input_data", "the image source has more than " + max
            + " images, the most one job takes");
      }
      if (source.equals("inference_session_id")) {
        return Future.succeededFuture(list);
      }
      // images that came through the upload API keep the name their owner gave them
      return uploads.originalNames(who.visible(), list.stream().map(ImageRef::s3Uri).toList())
          .map(names -> list.stream()
              .map(r -> new ImageRef(r.index(), r.s3Uri(), names.getOrDefault(r.s3Uri(), r.name()))).toList());
    });
  }

  private Future<List<ImageRef>> prefixImages(String text, Requester who, int max) {
    String field = "input_data.image_paths_s3";
    S3Uri prefix = S3Uri.parse(text).orElseThrow(() -> JobError.invalid(field,
        "must be an s3://bucket/prefix URI without empty, . or .. segments; got '" + text + "'"));
    allowedBucket(prefix, field);
    Future<List<String>> listed;
    if (who.anyObject() || shared(prefix)) {
      listed = storage.listKeys(prefix, max); // at once: beside the checkpoint's look-up, not after it
    } else {
      Optional<UUID> session = sessionOf(prefix);
      listed = session.isEmpty() ? Future.failedFuture(notReadable(field))
          : uploads.visibleSession(who.visible(), session.get()).compose(mine -> mine
              ? storage.listKeys(prefix, max) : Future.failedFuture(notReadable(field)));
    }
    return listed.map(keys -> {
      List<ImageRef> out = new ArrayList<>();
      for (String key : keys) {
        if (ImageFormat.namedLikeAnImage(key)) {
          S3Uri u = new S3Uri(prefix.bucket(), key);
          out.add(new ImageRef(out.size(), u.toString(), u.fileName()));
        }
      }
      if (out.isEmpty()) {
        throw JobError.unprocessable(field, "no images (.jpg, .jpeg, .png, .bmp, .webp) under " + prefix);
      }
      return out;
    });
  }

  private Future<List<ImageRef>> listedImages(JsonArray uris, Requester who) {
    List<ImageRef> out = new ArrayList<>();
    List<String> unshared = new ArrayList<>();
    for (int i = 0; i < uris.size(); i++) {
      Object v = uris.getValue(i);
      String field = "input_data.image_uris[" + i + "]";
      S3Uri u = S3Uri.parse(v instanceof String s ? s : null).filter(x -> !x.key().isEmpty())
          .orElseThrow(() -> JobError.invalid(field,
              "must be an s3://bucket/key URI without empty, . or .. segments; got '" + v + "'"));
      allowedBucket(u, field);
      out.add(new ImageRef(i, u.toString(), u.fileName()));
      if (!who.anyObject() && !shared(u)) {
        unshared.add(u.toString());
      }
    }
    return unshared.isEmpty() ? Future.succeededFuture(out)
        : uploads.visibleFiles(who.visible(), unshared).compose(mine -> {
          for (ImageRef r : out) {
            if (unshared.contains(r.s3Uri()) && !mine.contains(r.s3Uri())) {
              return Future.failedFuture(notReadable("input_data.image_uris[" + r.index() + "]"));
            }
          }
          return Future.succeededFuture(out);
        });
  }

  private Future<List<ImageRef>> sessionImages(String text, Requester who) {
    String field = "input_data.inference_session_id";
    UUID session;
    try {
      session = UUID.fromString(text);
    } catch (IllegalArgumentException e) {
      throw JobError.invalid(field, "must be a UUID; got '" + text + "'");
    }
    // another tenant's session is, to this requester, a session that does not exist
    return uploads.files(who.visible(), session).map(files -> {
      if (files.isEmpty()) {
        throw JobError.notFound(field, "inference session " + session + " does not exist");
      }
      return files;
    });
  }
}
