package io.inferencejobs.api;

import io.inferencejobs.jobs.UploadRepository.StoredFile;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpServerFileUpload;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code POST /inference/upload-images}. The request is read only after the key, the rate, the declared size, the
 * training job and the spool disk's free space are checked. Each part is streamed to its own spool file (never whole
 * in memory, bounded by the upload limit and the file count); the body is complete when the request has ended with
 * the multipart close delimiter and every part's file is closed. Then every file's type is checked from its bytes,
 * the session is recorded as pending, the files are copied to S3, and the session commits with its files in one
 * transaction. Any refusal writes nothing: objects already copied are removed (or, if the node dies first, swept
 * later), and the spool files of the request are deleted however it ends.
 */
final class UploadHandler {
  private static final Logger LOG = LoggerFactory.getLogger(UploadHandler.class);
  private static final Pattern BOUNDARY = Pattern.compile("(?i)boundary=(?:\"([^\"]{1,70})\"|([^;\\s]{1,70}))");

  private final Vertx vertx;
  private final ApiContext api;
  private final Function<Caller, Future<Void>> rateLimit;
  private final Path spool;

  UploadHandler(Vertx vertx, ApiContext api, Function<Caller, Future<Void>> rateLimit) {
    this.vertx = vertx;
    this.api = api;
    this.rateLimit = rateLimit;
    this.spool = spoolDir(api);
  }

  /** Where request bodies are streamed before they reach S3; emptied at start (see {@link UploadSweeper}). */
  static Path spoolDir(ApiContext api) {
    return api.config().dataDir().resolve("uploads-tmp");
  }

  private record Part(String originalName, Path file) {
  }

  private record Checked(Part part, ImageTypes.ImageType type, long size) {
  }

  void handle(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    // nothing of the body is read until every check that needs no body has passed
    request.pause();
    long trainingJobId = trainingJobId(ctx);
    String boundary = boundary(request.getHeader("Content-Type"));
    long maxBytes = api.config().limits().maxUploadBytes();
    long declared = declaredLength(request);
    if (declared > maxBytes) {
      throw ApiError.tooLarge("body", "the upload is " + declared + " bytes; at most " + maxBytes);
    }
    Body body = new Body(ctx, boundary, maxBytes);
    ctx.addEndHandler(ar -> body.cleanUp());
    rateLimit.apply(Caller.of(ctx))
        .compose(v -> api.trainingJobs().get(trainingJobId))
        .compose(tj -> tj.isPresent() ? spoolRoom(declared) : Future.failedFuture(ApiError.notFound(
            "training_job_id", "training job " + trainingJobId + " does not exist")))
        .compose(v -> body.read())
        .compose(parts -> {
          if (parts.isEmpty()) {
            return Future.failedFuture(ApiError.badRequest("files",
                "at least one file is required (multipart field 'files')"));
          }
          return api.io().submit(() -> check(parts));
        })
        .compose(checked -> store(Caller.tenant(ctx), trainingJobId, checked))
        .onSuccess(done -> Http.json(ctx, done))
        .onFailure(err -> {
          if (!ctx.response().ended()) {
            ctx.fail(err);
          }
        });
  }

  /** Refuses (507) an upload that would leave less than the configured minimum free on the spool's disk. */
  private Future<Void> spoolRoom(long declared) {
    long minFree = api.config().limits().uploadMinFreeBytes();
    return api.io().submit(() -> {
      Files.createDirectories(spool);
      long usable = Files.getFileStore(spool).getUsableSpace();
      if (usable - Math.max(0, declared) < minFree) {
        throw diskFull(usable);
      }
      return null;
    });
  }

  static ApiError diskFull(long usableBytes) {
    return new ApiError(507, "insufficient_storage", "the server's upload disk is full (" + usableBytes / (1024 * 1024)
        + " MiB free); the request was fine: retry later", List.of(new ApiError.Detail("body",
        "the server has no room to spool this upload")), 60);
  }

  /** One request body being read: the parts streamed to spool files, the byte count, the close delimiter. */
  private final class Body {
    final RoutingContext ctx;
    final HttpServerRequest request;
    final long maxBytes;
    final int maxFiles = api.config().limits().maxFilesPerUpload();
    final byte[] close;
    final List<Part> parts = new ArrayList<>();
    final List<AsyncFile> open = new ArrayList<>();
    final Promise<List<Part>> done = Promise.promise();
    long bytes;
    int writing;
    boolean ended;
    boolean closeSeen;
    /** The tail of the bytes seen so far, to find the close delimiter across chunk boundaries. */
    byte[] tail = new byte[0];

    Body(RoutingContext ctx, String boundary, long maxBytes) {
      this.ctx = ctx;
      this.request = ctx.request();
      this.maxBytes = maxBytes;
      this.close = ("--" + boundary + "--").getBytes(StandardCharsets.ISO_8859_1);
    }

    Future<List<Part>> read() {
      request.setExpectMultipart(true);
      request.handler(this::chunk);
      request.uploadHandler(this::part);
      request.exceptionHandler(err -> fail(err instanceof io.vertx.core.http.HttpClosedException
          ? new ApiError(400, "bad_request", "the client closed the connection during the upload", List.of(), null)
          : ApiError.badRequest("files", "malformed multipart body (" + err.getClass().getSimpleName() + ")")));
      request.endHandler(v -> {
        ended = true;
        if (!closeSeen) {
          fail(ApiError.badRequest("files", "malformed multipart body: it does not end with its closing boundary"));
        } else {
          finishIfDone();
        }
      });
      // every check before the body has passed: a client waiting for it may send the body now
      if ("100-continue".equalsIgnoreCase(request.getHeader("Expect"))) {
        request.response().writeContinue();
      }
      request.resume();
      return done.future();
    }

    private void chunk(Buffer data) {
      bytes += data.length();
      if (bytes > maxBytes) {
        fail(ApiError.tooLarge("body", "the upload exceeds " + maxBytes + " bytes"));
        return;
      }
      if (!closeSeen) {
        byte[] b = data.getBytes();
        byte[] window = new byte[tail.length + b.length];
        System.arraycopy(tail, 0, window, 0, tail.length);
        System.arraycopy(b, 0, window, tail.length, b.length);
        closeSeen = indexOf(window, close) >= 0;
        int keep = Math.min(window.length, close.length - 1);
        tail = java.util.Arrays.copyOfRange(window, window.length - keep, window.length);
      }
    }

    private void part(HttpServerFileUpload upload) {
      if (done.future().isComplete()) {
        return; // refused already: the part's bytes are dropped while the answer drains the body
      }
      int index = parts.size();
      if (!"files".equals(upload.name())) {
        fail(ApiError.badRequest(upload.name(), "unexpected multipart field; images go in the field 'files'"));
        return;
      }
      if (index >= maxFiles) {
        fail(ApiError.tooLarge("files", "more than " + maxFiles + " files in one upload"));
        return;
      }
      String name;
      try {
        name = safeName(upload.filename(), index);
      } catch (ApiError e) {
        fail(e);
        return;
      }
      Path file = spool.resolve(UUID.randomUUID() + ".part");
      parts.add(new Part(name, file));
      writing++;
      upload.pause();
      vertx.fileSystem().open(file.toString(), new OpenOptions().setCreateNew(true).setWrite(true))
          .onFailure(err -> fail(spoolFailure(err)))
          .onSuccess(out -> {
            if (done.future().isComplete()) {
              // refused while the file was being created: the exchange may have ended and its clean-up run already
              out.close().onComplete(closed -> vertx.fileSystem().delete(file.toString()));
              return;
            }
            open.add(out);
            out.exceptionHandler(err -> fail(spoolFailure(err)));
            upload.exceptionHandler(err -> fail(ApiError.badRequest("files[" + index + "]",
                "malformed part (" + err.getClass().getSimpleName() + ")")));
            upload.handler(data -> {
              if (done.future().isComplete()) {
                return; // refused: its file is closed, and the rest of the body is dropped until the connection goes
              }
              out.write(data).onFailure(err -> fail(spoolFailure(err)));
              if (out.writeQueueFull()) {
                upload.pause();
                out.drainHandler(v -> upload.resume());
              }
            });
            upload.endHandler(v -> {
              if (done.future().isComplete()) {
                return; // refused: fail() closed the file
              }
              open.remove(out); // closing already: fail() must not close it a second time (that throws)
              out.close().onComplete(ar -> {
                if (ar.failed()) {
                  fail(spoolFailure(ar.cause()));
                  return;
                }
                writing--;
                finishIfDone();
              });
            });
            upload.resume();
          });
    }

    private void finishIfDone() {
      if (ended && closeSeen && writing == 0) {
        done.tryComplete(List.copyOf(parts));
      }
    }

    /**
     * Stops spooling; the spool files go when the exchange ends. The answer (ErrorHandler) drains the rest of a small
     * body and closes the connection after a large one.
     */
    private void fail(Throwable err) {
      if (done.future().isComplete()) {
        return;
      }
      for (AsyncFile f : List.copyOf(open)) {
        f.close();
      }
      open.clear();
      LOG.debug("upload refused: {}", err.toString());
      done.fail(err);
    }

    /** A spool write failed: the disk (full, or failing), never the client's fault. */
    private Throwable spoolFailure(Throwable err) {
      try {
        long usable = Files.getFileStore(spool).getUsableSpace();
        if (usable < Math.max(api.config().limits().uploadMinFreeBytes(), 1024L * 1024)) {
          return diskFull(usable);
        }
      } catch (IOException ignored) {
        // the disk cannot even say how full it is: the generic answer below
      }
      LOG.warn("upload spool write failed: {}", err.toString());
      return ApiError.unavailable("the server could not spool the upload; retry later", 10);
    }

    /** Deletes every spool file of the request (after the answer, whatever it was). */
    void cleanUp() {
      List<Path> files = parts.stream().map(Part::file).toList();
      if (files.isEmpty()) {
        return;
      }
      vertx.executeBlocking(() -> {
        for (Path f : files) {
          Files.deleteIfExists(f);
        }
        return null;
      }, false).onFailure(err -> LOG.warn("could not delete upload spool files: {}", err.toString()));
    }
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static String boundary(String contentType) {
    if (contentType == null || !contentType.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/form-data")) {
      throw ApiError.unsupportedMedia("Content-Type", "uploads are multipart/form-data with the images in the field "
          + "'files'");
    }
    Matcher m = BOUNDARY.matcher(contentType);
    if (!m.find()) {
      throw ApiError.badRequest("Content-Type", "multipart/form-data without a boundary");
    }
    return m.group(1) != null ? m.group(1) : m.group(2);
  }

  private static long declaredLength(HttpServerRequest request) {
    String v = request.getHeader("Content-Length");
    if (v == null) {
      return -1;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("Content-Length", "not a number");
    }
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

  /** Runs on the io pool: each file must be an image of a format the engine reads (checked from its bytes). */
  private static List<Checked> check(List<Part> parts) throws IOException {
    List<Checked> out = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      Part p = parts.get(i);
      long size = Files.size(p.file());
      if (size == 0) {
        throw ApiError.unsupportedMedia("files[" + i + "]", "'" + p.originalName() + "' is empty, not an image");
      }
      int at = i;
      ImageTypes.ImageType type = ImageTypes.checkHeader(p.file()).orElseThrow(() -> ApiError.unsupportedMedia(
          "files[" + at + "]", "'" + p.originalName() + "' is not a JPEG, PNG, BMP or WebP image (checked from its "
              + "bytes)"));
      out.add(new Checked(p, type, size));
    }
    return out;
  }

  /**
   * Records the session (pending), copies the files to S3, then commits the session with its files. On failure the
   * objects are removed and the session forgotten; if that fails too, the sweeper removes them later.
   */
  private Future<JsonObject> store(String tenant, long trainingJobId, List<Checked> checked) {
    UUID session = UUID.randomUUID();
    String bucket = api.storage().bucket();
    String prefix = "inference/" + session + "/";
    S3Uri prefixUri = new S3Uri(bucket, prefix);
    List<StoredFile> stored = new ArrayList<>();
    for (Checked c : checked) {
      String unique = UUID.randomUUID() + "." + c.type().extension();
      stored.add(new StoredFile(c.part().originalName(), unique, new S3Uri(bucket, prefix + unique).toString(),
          c.size(), c.type().contentType()));
    }
    List<String> keys = stored.stream().map(s -> S3Uri.parse(s.s3Uri()).orElseThrow().key()).toList();
    return api.uploads().begin(session, tenant, trainingJobId, prefixUri.toString(),
            api.config().limits().uploadSweepSeconds())
        .compose(begun -> {
          List<Future<Void>> puts = new ArrayList<>();
          for (int i = 0; i < checked.size(); i++) {
            puts.add(api.storage().putFile(S3Uri.parse(stored.get(i).s3Uri()).orElseThrow(),
                checked.get(i).part().file(), stored.get(i).contentType()));
          }
          return Future.join(puts)
              .compose(all -> api.uploads().commit(session, stored))
              .recover(err -> {
                LOG.warn("upload {} failed, removing its objects: {}", session, err.toString());
                return api.storage().delete(bucket, keys)
                    .compose(removed -> api.uploads().abandon(session))
                    .onFailure(e -> LOG.warn("upload {}: clean-up failed ({}); the sweeper removes its objects later",
                        session, e.toString()))
                    .transform(x -> Future.failedFuture(err));
              });
        })
        .map(v -> new JsonObject()
            .put("status", "success")
            .put("inference_session_id", session.toString())
            .put("s3_prefix", prefixUri.toString())
            .put("uploaded_files", new JsonArray(stored.stream().map(StoredFile::toJson).toList()))
            .put("total_files", stored.size()));
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
