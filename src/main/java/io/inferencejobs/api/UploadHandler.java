package io.inferencejobs.api;

import io.inferencejobs.jobs.UploadRepository.StoredFile;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.FileUpload;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * {@code POST /inference/upload-images}: the body handler has already streamed each part to a temporary file (never
 * whole in memory, bounded by the upload limit); here every file's type is checked from its bytes, then all are
 * copied to S3 and recorded in one transaction. Any refusal writes nothing.
 */
final class UploadHandler {
  private static final Logger LOG = LoggerFactory.getLogger(UploadHandler.class);

  private final ApiContext api;

  UploadHandler(ApiContext api) {
    this.api = api;
  }

  private record Checked(FileUpload upload, String originalName, ImageTypes.ImageType type) {
  }

  /** Set when the body handler has handed the parsed request over (see ApiVerticle.watchMultipart). */
  static final String REACHED = "upload_reached";

  void handle(RoutingContext ctx) {
    ctx.put(REACHED, true);
    long trainingJobId = trainingJobId(ctx);
    List<FileUpload> uploads = new ArrayList<>();
    for (FileUpload f : ctx.fileUploads()) {
      if (!"files".equals(f.name())) {
        throw ApiError.badRequest(f.name(), "unexpected multipart field; images go in the field 'files'");
      }
      uploads.add(f);
    }
    if (uploads.isEmpty()) {
      throw ApiError.badRequest("files", "at least one file is required (multipart field 'files')");
    }
    int maxFiles = api.config().limits().maxFilesPerUpload();
    if (uploads.size() > maxFiles) {
      throw ApiError.tooLarge("files", uploads.size() + " files in one upload; at most " + maxFiles);
    }
    List<String> names = new ArrayList<>();
    for (int i = 0; i < uploads.size(); i++) {
      names.add(safeName(uploads.get(i).fileName(), i));
    }
    UUID session = UUID.randomUUID();
    String prefix = "inference/" + session + "/";
    api.trainingJobs().get(trainingJobId)
        .compose(tj -> tj.isPresent() ? api.io().submit(() -> check(uploads, names))
            : Future.failedFuture(ApiError.notFound("training_job_id",
                "training job " + trainingJobId + " does not exist")))
        .compose(checked -> store(session, prefix, trainingJobId, checked))
        .onSuccess(stored -> Http.json(ctx, new JsonObject()
            .put("status", "success")
            .put("inference_session_id", session.toString())
            .put("s3_prefix", new S3Uri(api.storage().bucket(), prefix).toString())
            .put("uploaded_files", new JsonArray(stored.stream().map(StoredFile::toJson).toList()))
            .put("total_files", stored.size())))
        .onFailure(ctx::fail);
  }

  private static long trainingJobId(RoutingContext ctx) {
    List<String> values = ctx.queryParam("training_job_id");
    if (values.isEmpty()) {
      throw ApiError.badRequest("training_job_id", "query parameter is required");
    }
    try {
      long id = Long.parseLong(values.get(0));
      if (id < 1) {
        throw new NumberFormatException();
      }
      return id;
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("training_job_id", "must be a positive integer; got '" + values.get(0) + "'");
    }
  }

  /** Runs on the io pool: reads the first bytes of every file. */
  private static List<Checked> check(List<FileUpload> uploads, List<String> names) throws IOException {
    List<Checked> out = new ArrayList<>();
    for (int i = 0; i < uploads.size(); i++) {
      FileUpload f = uploads.get(i);
      if (f.size() == 0) {
        throw ApiError.unsupportedMedia("files[" + i + "]", "'" + names.get(i) + "' is empty, not an image");
      }
      byte[] head;
      try (InputStream in = Files.newInputStream(Path.of(f.uploadedFileName()))) {
        head = in.readNBytes(ImageTypes.SNIFF_BYTES);
      }
      int at = i;
      ImageTypes.ImageType type = ImageTypes.sniff(head).orElseThrow(() -> ApiError.unsupportedMedia(
          "files[" + at + "]", "'" + names.get(at) + "' is not a JPEG, PNG, BMP or WebP image (checked from its "
              + "bytes)"));
      out.add(new Checked(f, names.get(i), type));
    }
    return out;
  }

  private Future<List<StoredFile>> store(UUID session, String prefix, long trainingJobId, List<Checked> checked) {
    String bucket = api.storage().bucket();
    List<StoredFile> stored = new ArrayList<>();
    List<Future<Void>> puts = new ArrayList<>();
    for (Checked c : checked) {
      String unique = UUID.randomUUID() + "." + c.type().extension();
      S3Uri uri = new S3Uri(bucket, prefix + unique);
      stored.add(new StoredFile(c.originalName(), unique, uri.toString(), c.upload().size(), c.type().contentType()));
      puts.add(api.storage().putFile(uri, Path.of(c.upload().uploadedFileName()), c.type().contentType()));
    }
    List<String> keys = stored.stream().map(s -> S3Uri.parse(s.s3Uri()).orElseThrow().key()).toList();
    return Future.join(puts)
        .compose(done -> api.uploads().create(session, trainingJobId, new S3Uri(bucket, prefix).toString(), stored))
        .map(v -> stored)
        .recover(err -> {
          // leave nothing behind: remove whatever reached S3
          LOG.warn("upload {} failed, removing its objects: {}", session, err.toString());
          return api.storage().delete(bucket, keys)
              .onFailure(e -> LOG.error("upload {}: could not remove its objects: {}", session, e.toString()))
              .transform(x -> Future.failedFuture(err));
        });
  }

  /**
   * The name as the user knows it, without path parts. A name with a {@code ..} segment is refused outright: it is
   * either an attack or a client bug, and either way the caller should know.
   */
  static String safeName(String raw, int index) {
    String name = raw == null ? "" : raw;
    for (String seg : name.split("[/\\\\]")) {
      if (seg.equals("..")) {
        throw ApiError.badRequest("files[" + index + "]", "file name '" + name + "' must not contain '..' path "
            + "segments");
      }
    }
    int cut = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
    name = name.substring(cut + 1).replaceAll("\\p{Cntrl}", "").strip();
    if (name.length() > 255) {
      name = name.substring(name.length() - 255);
    }
    return name.isEmpty() ? "file-" + index : name;
  }
}
