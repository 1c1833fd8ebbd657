package io.inferencejobs.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A plain HTTP client for the benchmarks: JSON, multipart uploads streamed from disk, SSE. */
final class Http implements AutoCloseable {
  static final String INF = "/api/v1/test_inference/inference";
  final Vertx vertx;
  final HttpClient client;

  Http(int port, int maxConnections) {
    this(port, maxConnections, 0);
  }

  /**
   * {@code eventLoops}: how many event loops the connections are spread over (0: the caller's one). A client of
   * thousands of streams on one loop reads them all on one thread, and measures itself more than the server.
   */
  Http(int port, int maxConnections, int eventLoops) {
    vertx = Vertx.vertx();
    client = vertx.httpClientBuilder()
        .with(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port).setTcpNoDelay(true))
        .with(new PoolOptions().setHttp1MaxSize(maxConnections).setMaxWaitQueueSize(-1).setEventLoopSize(eventLoops))
        .build();
  }

  static <T> T await(Future<T> f) {
    try {
      return f.await(600, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("no answer in 600 s", e);
    }
  }

  /** Status and JSON body. */
  record Reply(int status, JsonObject body) {
  }

  Future<Reply> json(HttpMethod method, String path, JsonObject body) {
    return client.request(method, path).compose(req -> {
      req.putHeader("Content-Type", "application/json");
      return (body == null ? req.send() : req.send(body.toBuffer()))
          .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(),
              b.length() == 0 ? new JsonObject() : b.toJsonObject())));
    });
  }

  /** Multipart upload of files under the field {@code files}, streamed from disk. */
  Future<Reply> upload(long trainingJobId, List<Path> files) {
    String boundary = "----bench" + UUID.randomUUID().toString().replace("-", "");
    return client.request(HttpMethod.POST, INF + "/upload-images?training_job_id=" + trainingJobId).compose(req -> {
      req.putHeader("Content-Type", "multipart/form-data; boundary=" + boundary).setChunked(true);
      Future<Void> chain = Future.succeededFuture();
      for (Path f : files) {
        chain = chain.compose(v -> req.write("--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; "
                + "filename=\"" + f.getFileName() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n"))
            .compose(v -> vertx.fileSystem().open(f.toString(), new OpenOptions().setRead(true)))
            .compose(file -> file.pipe().endOnComplete(false).to(req).eventually(file::close))
            .compose(v -> req.write("\r\n"));
      }
      return chain.compose(v -> req.end("--" + boundary + "--\r\n"))
          .compose(v -> req.response())
          .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b.toJsonObject())));
    });
  }

  /** Opens an SSE stream; {@code onEvent} gets (type, data) of each event as it arrives. */
  Future<Void> stream(String path, Consumer<String[]> onEvent) {
    return client.request(new RequestOptions().setMethod(HttpMethod.GET).setURI(path)
            .putHeader("Accept", "text/event-stream"))
        .compose(req -> req.send().map(resp -> {
          if (resp.statusCode() != 200) {
            throw new IllegalStateException("stream answered " + resp.statusCode());
          }
          resp.handler(RecordParser.newDelimited("\n\n", frame -> {
            // the lines scanned in place: a client of thousands of streams must not cost more than the server
            String text = frame.toString();
            String type = field(text, "event: ");
            if (type != null) {
              onEvent.accept(new String[] {type, field(text, "data: ")});
            }
          }));
          return null;
        }));
  }

  /** The value of an SSE frame's line starting with {@code prefix}, or null. */
  private static String field(String frame, String prefix) {
    int from;
    if (frame.startsWith(prefix)) {
      from = prefix.length();
    } else {
      int at = frame.indexOf("\n" + prefix);
      if (at < 0) {
        return null;
      }
      from = at + 1 + prefix.length();
    }
    int end = frame.indexOf('\n', from);
    return frame.substring(from, end < 0 ? frame.length() : end);
  }

  /** What a streamed download took: bytes, seconds to the last byte, status. */
  record Download(int status, long bytes, double seconds) {
  }

  /** GETs {@code path} and counts the body's bytes as they arrive, holding none of them. */
  Future<Download> download(String path, Consumer<Long> progress) {
    long t0 = System.nanoTime();
    return client.request(HttpMethod.GET, path).compose(req -> req.send().compose(resp -> {
      long[] n = {0};
      resp.handler(b -> {
        n[0] += b.length();
        progress.accept(n[0]);
      });
      return resp.end().map(v -> new Download(resp.statusCode(), n[0], (System.nanoTime() - t0) / 1e9));
    }));
  }

  /** Uploads dog.jpg and answers the body of a job on it (pretrained model of training job 1). */
  JsonObject oneImageJob() {
    Path dog = sampleImagesDir().resolve("dog.jpg");
    String uri = await(upload(1, List.of(dog))).body().getJsonArray("uploaded_files").getJsonObject(0)
        .getString("s3_uri");
    return new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
        .put("inference_type", "batch").put("input_data", new JsonObject().put("image_uris",
            new io.vertx.core.json.JsonArray().add(uri)));
  }

  static Path sampleImagesDir() {
    for (String candidate : List.of("src/test/resources/images", "../shared/images", "shared/images")) {
      Path p = Path.of(candidate);
      if (Files.isDirectory(p)) {
        return p;
      }
    }
    throw new IllegalStateException("no sample images found (src/test/resources/images or ../shared/images)");
  }

  @Override
  public void close() {
    await(vertx.close());
  }
}
