package io.inferencejobs.jobs;

import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.UUID;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The application layer's rules, in-process against a real PostgreSQL and S3 (no HTTP): creation with defaults and
 * idempotency per tenant, what a requester may read, the per-tenant view, the active-job limit, cancel. Each test is
 * one flat chain of futures.
 */
@ExtendWith(VertxExtension.class)
class JobServiceTest {
  static Stores stores;
  static JobService service;
  static JobRepository jobs;
  static UploadRepository uploads;
  static String image;

  @BeforeAll
  static void start() throws Exception {
    stores = Stores.get();
    jobs = new JobRepository(stores.pool, events -> { });
    uploads = new UploadRepository(stores.pool);
    TrainingJobRepository trainingJobs = new TrainingJobRepository(stores.pool);
    service = new JobService(stores.config, stores.storage, jobs, trainingJobs, uploads,
        url -> io.vertx.core.Future.succeededFuture());
    S3Uri model = new S3Uri("inference-jobs", stores.config.pretrained().s3Key());
    image = "s3://inference-jobs/shared/" + UUID.randomUUID() + ".jpg";
    Stores.await(stores.storage.putBytes(model, new byte[] {0x08, 0x07, 0x12, 0x00}, "application/octet-stream"));
    Stores.await(stores.storage.putBytes(S3Uri.parse(image).orElseThrow(), new byte[] {1}, "image/jpeg"));
    Stores.await(trainingJobs.upsert(stores.config.pretrained().trainingJobName(), "detection", null,
        new JsonObject().put("pretrained", model.toString())));
  }

  static Requester tenant(String name) {
    return new Requester("key-of-" + name, name, TenantFilter.only(name), false);
  }

  static Requester admin() {
    return new Requester("ops", "ops", TenantFilter.ALL, true);
  }

  static JobService.CreateJob request(JsonObject input, String idempotencyKey, String hash) {
    return new JobService.CreateJob(1, "pretrained", "batch", input, null, null, idempotencyKey, hash);
  }

  static JsonObject images(String... uris) {
    return new JsonObject().put("image_uris", new JsonArray(List.of((Object[]) uris)));
  }

  /** Succeeds when {@code f} failed with a JobError of this kind naming this field. */
  static Future<Void> refused(Future<?> f, JobError.Kind kind, String field) {
    return f.transform(ar -> {
      if (ar.succeeded()) {
        return Future.failedFuture(new AssertionError("expected " + kind + " on " + field + ", got " + ar.result()));
      }
      if (!(ar.cause() instanceof JobError e) || e.kind() != kind || !java.util.Objects.equals(field, e.field())) {
        return Future.failedFuture(new AssertionError("expected " + kind + " on " + field + ", got " + ar.cause()));
      }
      return Future.succeededFuture();
    });
  }

  @Test
  void aJobStoresItsSettingsFilledInAndAnIdempotentRetryGetsItBack(VertxTestContext tc) {
    String key = "k-" + UUID.randomUUID();
    Requester a = tenant("a-" + UUID.randomUUID());
    service.create(a, request(images(image), key, "hash-1"))
        .compose(first -> {
          tc.verify(() -> {
            assertThat(first.tenant()).isEqualTo(a.tenant());
            assertThat(first.inputData().getDouble("confidence_threshold")).isEqualTo(0.25);
            assertThat(first.inputData().getInteger("max_detections")).isEqualTo(100);
            assertThat(first.totalImages()).isEqualTo(1);
          });
          return service.create(a, request(images(image), key, "hash-1"))
              .map(again -> {
                tc.verify(() -> assertThat(again.id()).isEqualTo(first.id()));
                return first;
              });
        })
        .compose(first -> refused(service.create(a, request(images(image, image), key, "hash-2")),
            JobError.Kind.CONFLICT, "Idempotency-Key").map(first))
        // another tenant's key of the same name is another key
        .compose(first -> service.create(tenant("b-" + UUID.randomUUID()), request(images(image), key, "hash-2"))
            .map(other -> {
              tc.verify(() -> assertThat(other.id()).isNotEqualTo(first.id()));
              return null;
            }))
        .onComplete(tc.succeedingThenComplete());
  }

  @Test
  void anotherTenantSeesNothingAndCannotCancel(VertxTestContext tc) {
    Requester a = tenant("a-" + UUID.randomUUID());
    Requester b = tenant("b-" + UUID.randomUUID());
    service.create(a, request(images(image), null, "h"))
        .compose(job -> refused(service.get(b, job.id()), JobError.Kind.NOT_FOUND, "inference_job_id")
            .compose(v -> refused(service.cancel(b, job.id()), JobError.Kind.NOT_FOUND, "inference_job_id"))
            .compose(v -> service.list(b, new JobFilter(null, null, null, null), null, 0, 1000))
            .compose(page -> {
              tc.verify(() -> assertThat(page.items()).noneMatch(j -> j.id() == job.id()));
              return service.get(admin(), job.id());
            })
            .compose(seen -> service.cancel(a, job.id()))
            .compose(cancelled -> {
              tc.verify(() -> assertThat(cancelled.status()).isEqualTo(JobStatus.CANCELLED));
              return refused(service.cancel(a, job.id()), JobError.Kind.CONFLICT, "status");
            }))
        .onComplete(tc.succeedingThenComplete());
  }

  @Test
  void whatARequesterMayRead(VertxTestContext tc) throws Exception {
    Requester a = tenant("a-" + UUID.randomUUID());
    S3Uri pt = new S3Uri("inference-jobs", "elsewhere/" + UUID.randomUUID() + ".pt");
    ByteArrayOutputStream zip = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(zip)) {
      z.putNextEntry(new ZipEntry("best/data.pkl"));
      z.write(new byte[] {(byte) 0x80, 0x02});
      z.closeEntry();
    }
    String notShared = "s3://inference-jobs/private/" + UUID.randomUUID() + ".jpg";
    stores.storage.putBytes(pt, zip.toByteArray(), "application/zip")
        // a raw s3:// checkpoint is an admin's to run
        .compose(v -> refused(service.create(a, new JobService.CreateJob(1, pt.toString(), "batch", images(image), null, null,
            null, "h")), JobError.Kind.FORBIDDEN, "checkpoint_path"))
        // an admin gets further: a PyTorch file is refused with the export command
        .compose(v -> service.create(admin(), new JobService.CreateJob(1, pt.toString(), "batch", images(image), null, null, null,
            "h")).transform(ar -> {
              tc.verify(() -> {
                assertThat(ar.cause()).isInstanceOf(JobError.class);
                assertThat(ar.cause().getMessage()).contains("yolo export model=best.pt format=onnx");
              });
              return Future.<Void>succeededFuture();
            }))
        .compose(v -> refused(service.create(a, request(images(image, notShared), null, "h")),
            JobError.Kind.FORBIDDEN, "input_data.image_uris[1]"))
        .compose(v -> refused(service.create(a, request(new JsonObject().put("image_paths_s3",
            "s3://inference-jobs/private/"), null, "h")), JobError.Kind.FORBIDDEN, "input_data.image_paths_s3"))
        .compose(v -> refused(service.create(a, request(new JsonObject().put("image_paths_s3",
            "s3://inference-jobs/shared/../private/"), null, "h")), JobError.Kind.INVALID,
            "input_data.image_paths_s3"))
        .compose(v -> refused(service.create(a, request(new JsonObject().put("inference_session_id",
            UUID.randomUUID().toString()), null, "h")), JobError.Kind.NOT_FOUND, "input_data.inference_session_id"))
        .compose(v -> refused(service.create(a, request(new JsonObject(), null, "h")), JobError.Kind.INVALID,
            "input_data"))
        .onComplete(tc.succeedingThenComplete());
  }

  @Test
  void aTenantAtItsActiveJobLimitIsToldToComeBack(VertxTestContext tc) {
    Requester a = tenant("a-" + UUID.randomUUID());
    // the stores' configuration allows 3 active jobs per tenant
    service.create(a, request(images(image), null, "h"))
        .compose(v -> service.create(a, request(images(image), null, "h")))
        .compose(v -> service.create(a, request(images(image), null, "h")))
        .compose(v -> service.create(a, request(images(image), null, "h")).transform(ar -> {
          tc.verify(() -> {
            assertThat(ar.cause()).isInstanceOf(JobError.class);
            JobError e = (JobError) ar.cause();
            assertThat(e.kind()).isEqualTo(JobError.Kind.TOO_MANY);
            assertThat(e.retryAfterSeconds()).isEqualTo(JobService.ACTIVE_JOBS_RETRY_SECONDS);
          });
          return Future.<Void>succeededFuture();
        }))
        // another tenant is not held back
        .compose(v -> service.create(tenant("b-" + UUID.randomUUID()), request(images(image), null, "h")))
        .onComplete(tc.succeedingThenComplete());
  }
}
