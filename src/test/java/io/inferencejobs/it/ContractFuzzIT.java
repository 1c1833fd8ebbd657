package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.config.Auth;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Requests made from the contract with random and boundary values for every parameter and body field (odd strings,
 * huge and negative numbers, nulls, wrong types, missing required and extra fields, broken bodies, missing keys), a
 * few thousand of them within a minute. No answer is a 5xx, every error has the JSON error shape, and a refused
 * request changes no row of any table (nor the uploaded objects). The seed is printed; rerun one with
 * {@code -Dfuzz.seed=N}. Runs on an API-only node, so that jobs it creates stay pending and write nothing later.
 */
class ContractFuzzIT {
  static final String KEY = "fuzz-it-admin-key-5Yb8Rk2Lm";
  static final long BUDGET_NANOS = 60_000_000_000L;
  static final int MAX_REQUESTS = 3000;
  static Node node;
  static Api api;
  static Contract contract;
  static String countQuery;

  @BeforeAll
  static void start() {
    Map<String, String> env = new HashMap<>(TestService.settings("fuzz"));
    env.put("ROLES", "api");
    env.put("API_KEYS", "fuzz:admin:" + Auth.hash(KEY));
    env.put("RATE_PER_SECOND", "0");
    env.put("MAX_ACTIVE_JOBS_PER_TENANT", "0");
    // every protected operation protected: then no request without the key may succeed
    env.put("METRICS_PUBLIC", "false");
    node = TestService.start(env);
    api = new Api(node.httpPort());
    contract = new Contract(api.vertx());
    List<String> tables = new ArrayList<>();
    Api.await(node.pool().query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        + "AND table_type = 'BASE TABLE' ORDER BY table_name").execute()).forEach(r -> tables.add(r.getString(0)));
    assertThat(tables).contains("inference_jobs", "job_events", "uploaded_files");
    countQuery = "SELECT " + String.join(", ", tables.stream()
        .map(t -> "(SELECT count(*) FROM " + t + ") AS " + t).toList());
  }

  @AfterAll
  static void stop() {
    api.close();
    Api.await(node.closeAsync());
  }

  static Map<String, Long> snapshot(boolean objects) {
    Row r = Api.await(node.pool().query(countQuery).execute()).iterator().next();
    Map<String, Long> out = new TreeMap<>();
    for (int i = 0; i < r.size(); i++) {
      out.put(r.getColumnName(i), r.getLong(i));
    }
    if (objects) {
      out.put("s3 objects", (long) Api.await(node.storage().listKeys(new S3Uri(node.storage().bucket(), "inference/"),
          1_000_000)).size());
    }
    return out;
  }

  @Test
  void randomRequestsFromTheContract() {
    // CI replays one fixed sequence (a red build must be reproducible); elsewhere each run explores a new one
    long seed = Long.getLong("fuzz.seed", "true".equals(System.getenv("CI")) ? 20261126L : System.nanoTime());
    System.out.println("ContractFuzzIT seed " + seed + " (rerun with -Dfuzz.seed=" + seed + ")");
    Fuzzer fuzz = new Fuzzer(new Random(seed));
    Map<Integer, Integer> statuses = new TreeMap<>();
    Map<String, Long> before = snapshot(true);
    long start = System.nanoTime();
    int n = 0;
    int spellings = 0;
    for (; n < MAX_REQUESTS && System.nanoTime() - start < BUDGET_NANOS; n++) {
      Contract.Op op = contract.ops.get(fuzz.rnd.nextInt(contract.ops.size()));
      Fuzzer.Request req = fuzz.request(op);
      String what0 = "seed " + seed + ", request " + n + ": " + req;
      String what = what0;
      int status;
      if (op.stream()) {
        Api.Stream s = api.stream(req.uri, null, req.headers);
        s.close();
        status = s.status;
        if (status == 200) {
          assertThat(s.headers.get("content-type")).as(what).startsWith("text/event-stream");
        } else {
          assertThat(s.headers.get("content-type")).as(what).startsWith("application/json");
        }
      } else {
        String contentType;
        String text;
        if (req.spelling() != null) {
          // sent byte for byte: an HTTP client library may tidy an odd path up before it leaves
          WireHttp.Response r = WireHttp.send(api.port(), req.method().name(), req.uri(), req.headers(),
              req.body() == null ? null : req.body().getBytes());
          status = r.status();
          contentType = r.header("Content-Type");
          text = r.text();
        } else {
          HttpResponse<Buffer> r = api.request(req.method, req.uri, req.headers, req.body, 10, what);
          status = r.statusCode();
          contentType = r.getHeader("Content-Type");
          text = r.bodyAsString();
        }
        // readiness answers 503 with its own body (what is missing) on this node without workers
        if (status >= 400 && !(op.id().equals("healthReady") && status == 503)) {
          what += " answered " + status + " " + text;
          assertThat(contentType).as(what).startsWith("application/json");
          JsonObject error = new JsonObject(text).getJsonObject("error");
          assertThat(error).as(what).isNotNull();
          assertThat(error.getValue("code")).as(what).isInstanceOf(String.class);
          assertThat(error.getValue("message")).as(what).isInstanceOf(String.class);
          assertThat(error.getValue("details")).as(what).isInstanceOf(JsonArray.class);
        }
      }
      statuses.merge(status, 1, Integer::sum);
      if (!req.keyed() && !op.isPublic()) {
        assertThat(status < 200 || status >= 300).as("answered " + status + " without a key: " + what).isTrue();
      }
      if (req.spelling() != null) {
        // 404 for a path the contract does not have; 414 when the request line was too long to read at all
        assertThat(status).as("odd spelling (" + req.spelling() + "): " + what).isIn(404, 414);
        spellings++;
      }
      boolean expected503 = status == 503 && op.id().equals("healthReady"); // no worker on this node: not ready
      assertThat(status < 500 || expected503).as(what + " answered " + status).isTrue();
      boolean upload = op.id().equals("uploadImages");
      // S3 is listed after uploads only (the other operations write no objects)
      Map<String, Long> after = upload ? snapshot(true) : withObjects(snapshot(false), before);
      if (status < 200 || status >= 300) {
        assertThat(after).as(what + " answered " + status + " but wrote").isEqualTo(before);
      }
      before = after;
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.println("ContractFuzzIT: " + n + " requests in " + ms + " ms, statuses " + statuses);
    assertThat(n).isGreaterThanOrEqualTo(500);
    assertThat(spellings).as("requests through odd path spellings").isGreaterThan(n / 20);
    assertThat(statuses.keySet()).contains(400, 401);
  }

  /** The table counts of {@code now} with the object count of {@code previous}. */
  private static Map<String, Long> withObjects(Map<String, Long> now, Map<String, Long> previous) {
    Map<String, Long> out = new TreeMap<>(now);
    out.put("s3 objects", previous.get("s3 objects"));
    return out;
  }

  /** Makes requests for an operation from its contract definition. */
  static final class Fuzzer {
    static final String[] ODD = {"", " ", "a", "0", "-1", "null", "true", "[]", "{}", "\u0000", "\u202e\u0301",
        "\uD83D\uDE00", "é", "../../etc/passwd", "%00", "%2e%2e%2f", "'; DROP TABLE inference_jobs; --", "<script>",
        "\\", "\"", "s3://", "s3://inference-jobs/", "s3://inference-jobs/x.jpg", "s3://other-bucket/model.onnx",
        "s3://inference-jobs//a.jpg", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "pretrained",
        "1e309", "9223372036854775808", "-9223372036854775809", "0x10", "NaN", "Infinity", "2147483648"};
    final Random rnd;

    Fuzzer(Random rnd) {
      this.rnd = rnd;
    }

    /** {@code keyed}: sent with the valid key; {@code spelling}: null, or the odd spelling its path was sent with. */
    record Request(HttpMethod method, String uri, Map<String, String> headers, Buffer body, boolean keyed,
                   String spelling) {
      @Override
      public String toString() {
        String b = body == null ? "" : body.length() > 300 ? body.getString(0, 300) + "..." : body.toString();
        Map<String, String> h = new HashMap<>(headers);
        h.computeIfPresent("Authorization", (k, v) -> v.contains(KEY) ? "Bearer <key>" : v);
        String s = spelling == null ? "" : " [" + spelling + "]";
        String u = uri.length() > 300 ? uri.substring(0, 300) + "...(" + uri.length() + " chars)" : uri;
        return method + " " + u + s + " " + h + " " + b;
      }
    }

    boolean chance(double p) {
      return rnd.nextDouble() < p;
    }

    <T> T pick(List<T> list) {
      return list.get(rnd.nextInt(list.size()));
    }

    Request request(Contract.Op op) {
      Map<String, String> headers = new HashMap<>();
      double auth = rnd.nextDouble();
      boolean keyed = auth < 0.9;
      if (keyed) {
        headers.put("Authorization", "Bearer " + KEY);
      } else if (auth < 0.95) {
        headers.put("Authorization", pick(List.of("Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer wrong-key",
            "bearer " + KEY + "x")));
      }
      String path = op.path();
      StringBuilder query = new StringBuilder();
      for (Object p : op.definition().getJsonArray("parameters", new JsonArray())) {
        JsonObject param = contract.resolve((JsonObject) p);
        JsonObject schema = contract.resolve(param.getJsonObject("schema", new JsonObject()));
        String in = param.getString("in");
        String name = param.getString("name");
        if (in.equals("path")) {
          String v = chance(0.3) ? "1" : text(value(schema, 0));
          path = path.replace("{" + name + "}", encode(v.isEmpty() ? "x" : v));
        } else if (chance(param.getBoolean("required", false) ? 0.9 : 0.4)) {
          String v = text(value(schema, 0));
          if (in.equals("query")) {
            query.append(query.length() == 0 ? "?" : "&").append(name).append('=').append(encode(v));
          } else if (in.equals("header")) {
            headers.put(name, v.replaceAll("[^\\x20-\\x7e]", "?"));
          }
        }
      }
      if (chance(0.1)) {
        query.append(query.length() == 0 ? "?" : "&").append(encode(pick(Arrays.asList(ODD)))).append('=')
            .append(encode(pick(Arrays.asList(ODD))));
      }
      Buffer body = null;
      if (op.id().equals("uploadImages")) {
        String boundary = "fuzz" + rnd.nextInt(1000);
        headers.put("Content-Type", chance(0.9) ? "multipart/form-data; boundary=" + boundary : "application/json");
        body = multipart(boundary);
      } else if (op.method() == HttpMethod.POST) {
        JsonObject rb = op.definition().getJsonObject("requestBody");
        headers.put("Content-Type", chance(0.95) ? "application/json" : pick(List.of("text/plain",
            "application/x-www-form-urlencoded", "application/json; charset=latin1")));
        if (rb != null && chance(0.85)) {
          JsonObject schema = contract.resolve(rb.getJsonObject("content").getJsonObject("application/json")
              .getJsonObject("schema"));
          body = Buffer.buffer(io.vertx.core.json.Json.encode(value(schema, 0)));
        } else {
          body = Buffer.buffer(pick(List.of("", "{", "{\"a\":", "[]", "null", "42", "\"text\"", "{}",
              "{\"training_job_id\": 1e400}", "[".repeat(600) + "]".repeat(600), "\u0000", "{\"a\":\"\\ud800\"}")));
        }
      }
      String spelling = null;
      if (chance(0.15) && !op.stream()) {
        // the same request through an odd spelling of its path: a path the contract does not have
        List<Map.Entry<String, String>> variants = new ArrayList<>(SecurityIT.variants(path).entrySet());
        Map.Entry<String, String> v = pick(variants);
        spelling = v.getKey();
        path = v.getValue();
      }
      return new Request(op.method(), path + query, headers, body, keyed, spelling);
    }

    Buffer multipart(String boundary) {
      StringBuilder sb = new StringBuilder();
      int parts = rnd.nextInt(4);
      for (int i = 0; i < parts; i++) {
        String field = chance(0.8) ? "files" : pick(Arrays.asList(ODD)).replaceAll("[\"\r\n]", "");
        String file = pick(Arrays.asList(ODD)).replaceAll("[\"\r\n]", "") + (chance(0.5) ? ".jpg" : "");
        sb.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(field)
            .append('"').append(chance(0.8) ? "; filename=\"" + file + "\"" : "")
            .append("\r\nContent-Type: application/octet-stream\r\n\r\n")
            .append(chance(0.3) ? "\u00ff\u00d8\u00ff" : "").append(pick(Arrays.asList(ODD))).append("\r\n");
      }
      if (chance(0.9)) {
        sb.append("--").append(boundary).append("--\r\n");
      }
      return Buffer.buffer(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    static String encode(String s) {
      return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String text(Object v) {
      return v == null ? "" : v instanceof String s ? s : io.vertx.core.json.Json.encode(v);
    }

    /** A value for the schema: mostly plausible (boundaries included), sometimes of the wrong type or null. */
    Object value(JsonObject schema, int depth) {
      schema = contract.resolve(schema);
      if (chance(0.08) || depth > 4) {
        return wrong();
      }
      if (schema.getJsonArray("enum") != null && chance(0.8)) {
        return pick(schema.getJsonArray("enum").getList());
      }
      String type = String.valueOf(schema.getValue("type"));
      return switch (type) {
        case "integer" -> integer(schema);
        case "number" -> pick(List.of(0, 1, 0.5, 0.25, -0.0001, 1.0001, 1e-300, 1e300, -1, 100));
        case "boolean" -> rnd.nextBoolean();
        case "array" -> array(schema, depth);
        case "object" -> object(schema, depth);
        default -> string(schema);
      };
    }

    Object wrong() {
      return pick(Arrays.asList(null, true, -1, 0, Long.MAX_VALUE, Long.MIN_VALUE, 1.5e308, "x", "", new JsonArray(),
          new JsonObject(), new JsonArray().add(1).add("a"), new java.math.BigInteger("123456789012345678901234567890")));
    }

    Object integer(JsonObject schema) {
      long min = schema.getLong("minimum", Long.MIN_VALUE);
      long max = schema.getLong("maximum", Long.MAX_VALUE);
      List<Object> candidates = new ArrayList<>(List.of(0L, 1L, -1L, 2L, Long.MAX_VALUE, Long.MIN_VALUE, 424242L,
          Integer.MAX_VALUE + 1L, 1.5));
      if (min != Long.MIN_VALUE) {
        candidates.add(min);
        candidates.add(min - 1);
      }
      if (max != Long.MAX_VALUE) {
        candidates.add(max);
        candidates.add(max + 1);
      }
      return pick(candidates);
    }

    Object string(JsonObject schema) {
      int maxLength = schema.getInteger("maxLength", 5000);
      double r = rnd.nextDouble();
      if (r < 0.1) {
        return "x".repeat(Math.min(maxLength, 5000));
      }
      if (r < 0.2) {
        return "y".repeat(Math.min(maxLength + 1, 5001));
      }
      if (r < 0.3) {
        return UUID.randomUUID().toString();
      }
      if (r < 0.4) {
        StringBuilder sb = new StringBuilder();
        for (int i = rnd.nextInt(20); i > 0; i--) {
          sb.appendCodePoint(rnd.nextInt(0x3000));
        }
        return sb.toString();
      }
      return pick(Arrays.asList(ODD));
    }

    Object array(JsonObject schema, int depth) {
      JsonArray out = new JsonArray();
      int n = chance(0.1) ? 0 : rnd.nextInt(4);
      for (int i = 0; i < n; i++) {
        out.add(value(schema.getJsonObject("items", new JsonObject()), depth + 1));
      }
      return out;
    }

    Object object(JsonObject schema, int depth) {
      JsonObject out = new JsonObject();
      JsonObject props = schema.getJsonObject("properties", new JsonObject());
      List<String> required = schema.getJsonArray("required", new JsonArray()).getList();
      for (String p : props.fieldNames()) {
        if (required.contains(p) ? chance(0.93) : chance(0.4)) {
          out.put(p, value(props.getJsonObject(p), depth + 1));
        }
      }
      if (schema.getValue("additionalProperties") instanceof JsonObject extra) {
        for (int i = rnd.nextInt(3); i > 0; i--) {
          out.put(pick(Arrays.asList(ODD)) + i, value(extra, depth + 1));
        }
      } else if (chance(0.15)) {
        out.put(pick(Arrays.asList(ODD)) + "_extra", wrong());
      }
      return out;
    }
  }
}
