package io.inferencejobs.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.ext.web.multipart.MultipartForm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A small HTTP client for the tests: JSON calls, multipart uploads and an SSE reader. */
public final class Api implements AutoCloseable {
  public static final String INF = "/api/v1/test_inference/inference";
  private final Vertx vertx;
  private final WebClient web;
  private final HttpClient http;
  private final int port;

  private final io.vertx.openapi.contract.OpenAPIContract contract;
  private final io.vertx.openapi.validation.ResponseValidator validator;

  public Api(int port) {
    this.vertx = Vertx.vertx();
    this.port = port;
    this.contract = await(io.vertx.openapi.contract.OpenAPIContract.from(vertx, "openapi/inference-jobs.yaml"));
    this.validator = io.vertx.openapi.validation.ResponseValidator.create(vertx, contract);
    this.http = vertx.httpClientBuilder()
        .with(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port))
        .with(new io.vertx.core.http.PoolOptions().setHttp1MaxSize(512))
        .build();
    this.web = WebClient.wrap(http, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
  }

  public int port() {
    return port;
  }

  public Vertx vertx() {
    return vertx;
  }

  public static <T> T await(Future<T> f) {
    try {
      return f.await(120, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer within 120 s", e);
    }
  }

  /**
   * Every answer of an operation of the contract is checked against the response the contract declares for its
   * status (its schema, or the error shape): what the service sends is what a client generated from the contract
   * expects. Answers to paths the contract does not have are not.
   */
  public HttpResponse<Buffer> checked(HttpMethod method, String uri, HttpResponse<Buffer> r) {
    String path = uri.contains("?") ? uri.substring(0, uri.indexOf('?')) : uri;
    io.vertx.openapi.contract.Operation op = contract.findOperation(path, method);
    if (op == null) {
      return r;
    }
    Map<String, String> headers = new java.util.HashMap<>();
    r.headers().forEach(h -> headers.putIfAbsent(h.getKey(), h.getValue()));
    String type = r.getHeader("Content-Type");
    var response = r.body() == null && type == null
        ? io.vertx.openapi.validation.ValidatableResponse.create(r.statusCode(), headers)
        : io.vertx.openapi.validation.ValidatableResponse.create(r.statusCode(), headers,
            r.body() == null ? Buffer.buffer() : r.body(), type);
    try {
      validator.validate(response, op.getOperationId()).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      String detail = e instanceof io.vertx.openapi.validation.SchemaValidationException sv
          && sv.getOutputUnit() != null ? " " + sv.getOutputUnit().toJson().encode() : "";
      throw new AssertionError("the answer of " + op.getOperationId() + " (" + method + " " + uri + ", "
          + r.statusCode() + ") does not match the contract: " + e.getMessage() + detail + "\nbody: "
          + (r.bodyAsString() == null ? "" : r.bodyAsString().substring(0, Math.min(2000, r.bodyAsString().length()))),
          e);
    }
    return r;
  }

  public HttpResponse<Buffer> get(String path) {
    return checked(HttpMethod.GET, path, await(web.get(path).send()));
  }

  public HttpResponse<Buffer> get(String path, Map<String, String> headers) {
    var req = web.get(path);
    headers.forEach(req::putHeader);
    return checked(HttpMethod.GET, path, await(req.send()));
  }

  public HttpResponse<Buffer> post(String path, JsonObject body) {
    return checked(HttpMethod.POST, path, await(web.post(path).sendJsonObject(body)));
  }

  public HttpResponse<Buffer> post(String path, JsonObject body, Map<String, String> headers) {
    var req = web.post(path);
    headers.forEach(req::putHeader);
    return checked(HttpMethod.POST, path, await(req.sendJsonObject(body)));
  }

  public HttpResponse<Buffer> postRaw(String path, String contentType, Buffer body) {
    return checked(HttpMethod.POST, path,
        await(web.post(path).putHeader("Content-Type", contentType).sendBuffer(body)));
  }

  public HttpResponse<Buffer> request(HttpMethod method, String path) {
    return checked(method, path, await(web.request(method, path).send()));
  }

  /** Any method with headers and an optional body (sent as is). */
  public HttpResponse<Buffer> request(HttpMethod method, String path, Map<String, String> headers, Buffer body) {
    var req = web.request(method, path);
    headers.forEach(req::putHeader);
    return checked(method, path, await(body == null ? req.send() : req.sendBuffer(body)));
  }

  /** The same, failing with {@code what} when no answer comes within {@code seconds}. */
  public HttpResponse<Buffer> request(HttpMethod method, String path, Map<String, String> headers, Buffer body,
                                      int seconds, String what) {
    var req = web.request(method, path).timeout(seconds * 1000L);
    headers.forEach(req::putHeader);
    HttpResponse<Buffer> r;
    try {
      r = (body == null ? req.send() : req.sendBuffer(body)).await(seconds + 5L, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("no answer within " + seconds + " s: " + what, e);
    }
    return checked(method, path, r);
  }

  /** Uploads with extra headers (an Authorization header, for instance). */
  public HttpResponse<Buffer> upload(long trainingJobId, List<Map.Entry<String, Path>> files,
                                     Map<String, String> headers) {
    MultipartForm form = MultipartForm.create();
    for (var f : files) {
      form.binaryFileUpload("files", f.getKey(), f.getValue().toString(), "application/octet-stream");
    }
    String uri = INF + "/upload-images?training_job_id=" + trainingJobId;
    var req = web.post(uri);
    headers.forEach(req::putHeader);
    return checked(HttpMethod.POST, uri, await(req.sendMultipartForm(form)));
  }

  /** Uploads files under the field {@code files}; each entry is (file name as sent, path on disk). */
  public HttpResponse<Buffer> upload(long trainingJobId, List<Map.Entry<String, Path>> files) {
    MultipartForm form = MultipartForm.create();
    for (var f : files) {
      form.binaryFileUpload("files", f.getKey(), f.getValue().toString(), "application/octet-stream");
    }
    String uri = INF + "/upload-images?training_job_id=" + trainingJobId;
    return checked(HttpMethod.POST, uri, await(web.post(uri).sendMultipartForm(form)));
  }

  public long createJob(JsonObject body) {
    HttpResponse<Buffer> r = post(INF + "/jobs", body);
    if (r.statusCode() != 201) {
      throw new AssertionError("job not created: " + r.statusCode() + " " + r.bodyAsString());
    }
    return r.bodyAsJsonObject().getLong("id");
  }

  public static JsonObject jobRequest(JsonObject input) {
    return new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
        .put("inference_type", "batch").put("input_data", input);
  }

  // ------------------------------------------------------------------ SSE

  /** One parsed server-sent event (or comment, with type ":"). */
  public record Sse(String id, String type, String data) {
    public JsonObject json() {
      return new JsonObject(data);
    }
  }

  /** A live event stream read as it arrives. */
  public final class Stream {
    public final List<Sse> events = new CopyOnWriteArrayList<>();
    public final io.vertx.core.Promise<Void> ended = io.vertx.core.Promise.promise();
    public volatile int status;
    public volatile Map<String, String> headers;
    public volatile String retry;
    private volatile io.vertx.core.http.HttpClientResponse response;
    private final List<io.vertx.core.Promise<Void>> waiters = new CopyOnWriteArrayList<>();
    private final List<Predicate<List<Sse>>> conditions = new CopyOnWriteArrayList<>();

    /** Completes when {@code condition} holds for the events so far. */
    public synchronized Future<Void> until(Predicate<List<Sse>> condition) {
      io.vertx.core.Promise<Void> p = io.vertx.core.Promise.promise();
      if (condition.test(events)) {
        p.complete();
      } else {
        waiters.add(p);
        conditions.add(condition);
      }
      return p.future();
    }

    synchronized void add(Sse e) {
      events.add(e);
      for (int i = waiters.size() - 1; i >= 0; i--) {
        if (conditions.get(i).test(events)) {
          waiters.remove(i).tryComplete();
          conditions.remove(i);
        }
      }
    }

    public List<Sse> real() {
      return events.stream().filter(e -> !":".equals(e.type())).toList();
    }

    public void close() {
      // a finished stream's connection is back in the pool, serving other requests: leave it alone
      if (response != null && !ended.future().isComplete()) {
        response.request().reset();
      }
    }
  }

  /** Opens an SSE stream; the handler is attached as the response arrives so that no event is lost. */
  public Stream stream(String path, String lastEventId) {
    return stream(path, lastEventId, Map.of());
  }

  /** Opens an SSE stream with extra request headers. */
  public Stream stream(String path, String lastEventId, Map<String, String> headers) {
    Stream s = new Stream();
    RequestOptions opts = new RequestOptions().setMethod(HttpMethod.GET).setURI(path)
        .putHeader("Accept", "text/event-stream");
    headers.forEach(opts::putHeader);
    if (lastEventId != null) {
      opts.putHeader("Last-Event-ID", lastEventId);
    }
    Future<Void> opened = http.request(opts).compose(req -> req.send().map(resp -> {
      s.response = resp;
      s.status = resp.statusCode();
      Map<String, String> h = new java.util.HashMap<>();
      resp.headers().forEach(e -> h.put(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue()));
      s.headers = h;
      RecordParser parser = RecordParser.newDelimited("\n\n", frame -> parse(s, frame.toString()));
      resp.handler(parser);
      resp.endHandler(v -> s.ended.tryComplete());
      resp.exceptionHandler(err -> s.ended.tryComplete());
      return null;
    }));
    await(opened);
    return s;
  }

  private static void parse(Stream s, String frame) {
    String id = null;
    String type = "message";
    StringBuilder data = new StringBuilder();
    boolean comment = false;
    for (String line : frame.split("\n")) {
      if (line.startsWith(":")) {
        comment = true;
      } else if (line.startsWith("id: ")) {
        id = line.substring(4);
      } else if (line.startsWith("event: ")) {
        type = line.substring(7);
      } else if (line.startsWith("data: ")) {
        data.append(data.length() > 0 ? "\n" : "").append(line.substring(6));
      } else if (line.startsWith("retry: ")) {
        s.retry = line.substring(7);
        return;
      }
    }
    if (comment && id == null && data.length() == 0) {
      s.add(new Sse(null, ":", frame));
    } else {
      s.add(new Sse(id, type, data.toString()));
    }
  }

  /** The image indexes the {@code images} events among these list, in the order listed. */
  public static List<Integer> listedImages(List<Sse> events) {
    List<Integer> out = new java.util.ArrayList<>();
    for (Sse e : events) {
      if ("images".equals(e.type())) {
        e.json().getJsonArray("images").forEach(i -> out.add(((JsonObject) i).getInteger("image_index")));
      }
    }
    return out;
  }

  public static boolean terminal(List<Sse> events) {
    return events.stream().anyMatch(e -> List.of("completed", "failed", "cancelled").contains(e.type()));
  }

  /** Waits for the job's terminal event on its stream and returns the final job. */
  public JsonObject awaitTerminal(long jobId) {
    Stream s = stream(INF + "/jobs/" + jobId + "/events", null);
    await(s.until(Api::terminal));
    s.close();
    List<Sse> real = s.real();
    return real.get(real.size() - 1).json();
  }

  /** Every result of a job, following the cursor. */
  public List<JsonObject> allResults(long jobId) {
    List<JsonObject> out = new ArrayList<>();
    String cursor = null;
    do {
      HttpResponse<Buffer> r = get(INF + "/jobs/" + jobId + "/results?limit=500" + (cursor == null ? ""
          : "&cursor=" + cursor));
      if (r.statusCode() != 200) {
        throw new AssertionError(r.bodyAsString());
      }
      JsonObject page = r.bodyAsJsonObject();
      page.getJsonArray("results").forEach(o -> out.add((JsonObject) o));
      cursor = page.getString("next_cursor");
    } while (cursor != null);
    return out;
  }

  @Override
  public void close() {
    await(vertx.close());
  }
}
