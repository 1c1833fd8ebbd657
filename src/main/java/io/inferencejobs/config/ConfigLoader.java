package io.inferencejobs.config;

import io.inferencejobs.config.AppConfig.AuthConfig;
import io.inferencejobs.config.AppConfig.EngineConfig;
import io.inferencejobs.config.AppConfig.MetricsConfig;
import io.inferencejobs.config.AppConfig.HttpConfig;
import io.inferencejobs.config.AppConfig.LimitsConfig;
import io.inferencejobs.config.AppConfig.PostgresConfig;
import io.inferencejobs.config.AppConfig.PretrainedConfig;
import io.inferencejobs.config.AppConfig.Role;
import io.inferencejobs.config.AppConfig.S3Config;
import io.inferencejobs.config.AppConfig.WorkerConfig;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads {@code conf/application.json} (from the working directory, else the copy in the jar), applies environment
 * variables over it (env wins) and validates everything at once.
 */
public final class ConfigLoader {

  /** Environment variable to JSON path; the only settings taken from the environment. */
  public static final Map<String, String> ENV = envMap();

  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

  private ConfigLoader() {
  }

  private static Map<String, String> envMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("ROLES", "roles");
    m.put("CLUSTERED", "clustered");
    m.put("CLUSTER_NAME", "cluster.name");
    m.put("CLUSTER_CONFIG", "cluster.config");
    m.put("CLUSTER_HOST", "cluster.host");
    m.put("CLUSTER_PORT", "cluster.port");
    m.put("CLUSTER_MEMBERS", "cluster.members");
    m.put("CLUSTER_BUS_PORT", "cluster.bus_port");
    m.put("CLUSTER_PUBLIC_HOST", "cluster.public_host");
    m.put("MANAGEMENT_HOST", "management.host");
    m.put("MANAGEMENT_PORT", "management.port");
    m.put("ENGINE_CUDA_FALLBACK", "engine.cuda_fallback");
    m.put("PG_SSL_MODE", "postgres.ssl_mode");
    m.put("PG_SSL_ROOT_CERT", "postgres.ssl_root_cert");
    m.put("PG_EMBEDDED_PORT", "postgres.embedded_port");
    m.put("S3_EMBEDDED_PORT", "s3.embedded_port");
    m.put("HTTP_HOST", "http.host");
    m.put("HTTP_PORT", "http.port");
    m.put("SSE_HEARTBEAT_SECONDS", "http.sse_heartbeat_seconds");
    m.put("HTTP_IDLE_TIMEOUT_SECONDS", "http.idle_timeout_seconds");
    m.put("HTTP_INSTANCES", "http.instances");
    m.put("HTTP_HEADER_TIMEOUT_SECONDS", "http.header_timeout_seconds");
    m.put("HTTP_MAX_CONNECTIONS", "http.max_connections");
    m.put("HTTP_MAX_CONNECTIONS_PER_ADDRESS", "http.max_connections_per_address");
    m.put("DATA_DIR", "data_dir");
    m.put("PG_HOST", "postgres.host");
    m.put("PG_PORT", "postgres.port");
    m.put("PG_DATABASE", "postgres.database");
    m.put("PG_USER", "postgres.user");
    m.put("PG_PASSWORD", "postgres.password");
    m.put("PG_POOL_SIZE", "postgres.pool_size");
    m.put("S3_ENDPOINT", "s3.endpoint");
    m.put("S3_REGION", "s3.region");
    m.put("S3_ACCESS_KEY", "s3.access_key");
    m.put("S3_SECRET_KEY", "s3.secret_key");
    m.put("S3_BUCKET", "s3.bucket");
    m.put("ENGINE_THREADS", "engine.intra_op_threads");
    m.put("ENGINE_BATCH_SIZE", "engine.batch_size");
    m.put("MAX_IMAGE_PIXELS", "engine.max_pixels");
    m.put("JPEG_DECODER", "engine.jpeg_decoder");
    m.put("WORKER_DEVICES", "worker.devices");
    m.put("WORKER_SLOTS", "worker.slots_per_device");
    m.put("WORKER_CHUNK_SIZE", "worker.chunk_size");
    m.put("WORKER_LEASE_SECONDS", "worker.lease_seconds");
    m.put("WORKER_DECODE_THREADS", "worker.decode_threads");
    m.put("WORKER_IO_THREADS", "worker.io_threads");
    m.put("MAX_FAILED_RATIO", "worker.max_failed_ratio");
    m.put("MODEL_CACHE_SIZE", "worker.model_cache_size");
    m.put("WORKER_MAX_ATTEMPTS", "worker.max_attempts");
    m.put("WORKER_RETRY_BACKOFF_MS", "worker.retry_backoff_ms");
    m.put("MAX_IMAGE_BYTES", "limits.max_image_bytes");
    m.put("MAX_CHECKPOINT_BYTES", "limits.max_checkpoint_bytes");
    m.put("MAX_UPLOAD_BYTES", "limits.max_upload_bytes");
    m.put("MAX_FILES_PER_UPLOAD", "limits.max_files_per_upload");
    m.put("MAX_JSON_BODY_BYTES", "limits.max_json_body_bytes");
    m.put("MAX_IMAGES_PER_JOB", "limits.max_images_per_job");
    m.put("PRETRAINED_MODEL", "pretrained.model");
    m.put("CORS_ORIGINS", "http.cors_origins");
    m.put("S3_ALLOWED_BUCKETS", "s3.allowed_buckets");
    m.put("MAX_ACTIVE_JOBS_PER_TENANT", "limits.max_active_jobs_per_tenant");
    m.put("MAX_STREAMS_PER_TENANT", "limits.max_streams_per_tenant");
    m.put("UPLOAD_MIN_FREE_BYTES", "limits.upload_min_free_bytes");
    m.put("UPLOAD_SWEEP_SECONDS", "limits.upload_sweep_seconds");
    m.put("S3_SHARED_INPUTS", "s3.shared_inputs");
    m.put("RATE_PER_SECOND", "limits.rate_per_second");
    m.put("RATE_BURST", "limits.rate_burst");
    m.put("MAX_QUEUED_TASKS", "limits.max_queued_tasks");
    m.put("AUTH_ENABLED", "auth.enabled");
    m.put("API_KEYS", "auth.keys");
    m.put("AUTH_KEYS_FILE", "auth.keys_file");
    m.put("AUTH_TOKEN_SECRET", "auth.token_secret");
    m.put("STREAM_TOKEN_SECONDS", "auth.stream_token_seconds");
    m.put("WEBHOOK_ALLOWED_HOSTS", "results.webhook_allowed_hosts");
    m.put("WEBHOOK_TIMEOUT_SECONDS", "results.webhook_timeout_seconds");
    m.put("WEBHOOK_MAX_ATTEMPTS", "results.webhook_max_attempts");
    m.put("WEBHOOK_RETRY_BASE_MS", "results.webhook_retry_base_ms");
    m.put("WEBHOOK_RETRY_MAX_MS", "results.webhook_retry_max_ms");
    m.put("WEBHOOK_CONCURRENCY", "results.webhook_concurrency");
    m.put("DELIVERY_POLL_MS", "results.delivery_poll_ms");
    m.put("MAX_CONCURRENT_EXPORTS", "results.max_concurrent_exports");
    m.put("RETENTION_DAYS", "results.retention_days");
    m.put("RETENTION_SWEEP_SECONDS", "results.retention_sweep_seconds");
    m.put("METRICS_ENABLED", "metrics.enabled");
    m.put("METRICS_PUBLIC", "metrics.public");
    return Map.copyOf(m);
  }

  /** Loads the defaults and applies {@code env}; throws one {@link ConfigException} naming every problem. */
  public static AppConfig load(Map<String, String> env) {
    JsonObject json = readDefaults();
    for (Map.Entry<String, String> e : ENV.entrySet()) {
      String value = env.get(e.getKey());
      if (value != null) {
        put(json, e.getValue(), value);
      }
    }
    return parse(json, env);
  }

  static JsonObject readDefaults() {
    Path local = Path.of("conf", "application.json");
    try {
      if (Files.isRegularFile(local)) {
        return new JsonObject(Files.readString(local));
      }
      try (InputStream in = ConfigLoader.class.getResourceAsStream("/conf/application.json")) {
        if (in == null) {
          throw new ConfigException(List.of("conf/application.json: not found in the working directory nor in the jar"));
        }
        return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    } catch (IOException | DecodeException e) {
      throw new ConfigException(List.of("conf/application.json: " + e.getMessage()));
    }
  }

  private static void put(JsonObject root, String path, String value) {
    String[] parts = path.split("\\.");
    JsonObject node = root;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonObject child = node.getJsonObject(parts[i]);
      if (child == null) {
        child = new JsonObject();
        node.put(parts[i], child);
      }
      node = child;
    }
    node.put(parts[parts.length - 1], value);
  }

  private static AppConfig parse(JsonObject json, Map<String, String> env) {
    Reader r = new Reader(json, env);
    EnumSet<Role> roles = EnumSet.noneOf(Role.class);
    for (String role : r.list("roles")) {
      try {
        roles.add(Role.valueOf(role.toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        r.problem("roles", "unknown role '" + role + "' (expected api, worker)");
      }
    }
    if (roles.isEmpty()) {
      r.problem("roles", "at least one of api, worker is required");
    }
    boolean clustered = r.bool("clustered");
    AppConfig.ClusterConfig cluster = new AppConfig.ClusterConfig(r.string("cluster.name", false),
        r.string("cluster.config", true), r.string("cluster.host", false), r.integer("cluster.port", 1, 65535),
        r.list("cluster.members"), r.integer("cluster.bus_port", 0, 65535), r.string("cluster.public_host", true));
    if (clustered && cluster.busPort() == cluster.port()) {
      r.problem("cluster.bus_port", "must differ from cluster.port (" + cluster.port() + "): Hazelcast and the event "
          + "bus each need a port");
    }
    AppConfig.ManagementConfig management = new AppConfig.ManagementConfig(r.string("management.host", false),
        r.integer("management.port", 0, 65535));
    HttpConfig http = new HttpConfig(r.string("http.host", false), r.integer("http.port", 0, 65535),
        r.integer("http.sse_heartbeat_seconds", 1, 3600), r.list("http.cors_origins"),
        r.integer("http.idle_timeout_seconds", 1, 86_400), r.integer("http.header_timeout_seconds", 1, 3600),
        r.integer("http.max_connections", 0, 10_000_000), r.integer("http.max_connections_per_address", 0, 10_000_000),
        r.integer("http.instances", 0, 256));
    if (http.idleTimeoutSeconds() <= http.sseHeartbeatSeconds()) {
      r.problem("http.idle_timeout_seconds", "must be longer than http.sse_heartbeat_seconds ("
          + http.sseHeartbeatSeconds() + "), or idle event streams would be closed between keep-alives");
    }
    for (String origin : http.corsOrigins()) {
      if (!origin.equals("*") && !origin.matches("https?://[^/\\s]+")) {
        r.problem("http.cors_origins", "each origin must be scheme://host[:port] (or *), got '" + origin + "'");
      }
    }
    String dataDir = r.string("data_dir", false);
    PostgresConfig pg = new PostgresConfig(
        r.string("postgres.host", true),
        r.integer("postgres.port", 1, 65535),
        r.string("postgres.database", false),
        r.string("postgres.user", false),
        r.string("postgres.password", true),
        r.integer("postgres.pool_size", 1, 256),
        r.integer("postgres.embedded_port", 0, 65535),
        r.string("postgres.ssl_mode", false).toLowerCase(Locale.ROOT),
        r.string("postgres.ssl_root_cert", true));
    if (!pg.sslMode().matches("disable|prefer|require|verify-ca|verify-full")) {
      r.problem("postgres.ssl_mode", "must be disable, prefer, require, verify-ca or verify-full, got '" + pg.sslMode()
          + "'");
    }
    if (!pg.sslRootCert().isEmpty() && !Files.isReadable(Path.of(pg.sslRootCert()))) {
      r.problem("postgres.ssl_root_cert", "cannot read " + pg.sslRootCert());
    }
    String s3Endpoint = r.string("s3.endpoint", true);
    String accessKey = r.string("s3.access_key", true);
    String secretKey = r.string("s3.secret_key", true);
    if (accessKey.isEmpty() != secretKey.isEmpty()) {
      r.problem("s3.access_key", "set both S3_ACCESS_KEY and S3_SECRET_KEY, or neither (then the AWS SDK's default "
          + "credentials chain is used: environment, web identity, instance profile)");
    }
    if (s3Endpoint.isEmpty() && accessKey.isEmpty()) {
      accessKey = S3Config.EMBEDDED_ACCESS_KEY;
      secretKey = S3Config.EMBEDDED_SECRET_KEY;
    }
    S3Config s3 = new S3Config(
        s3Endpoint,
        r.string("s3.region", false),
        accessKey,
        secretKey,
        r.string("s3.bucket", false),
        r.integer("s3.embedded_port", 0, 65535),
        allowedBuckets(r),
        sharedInputs(r));
    if (!s3.endpoint().isEmpty() && !s3.endpoint().matches("https?://.+")) {
      r.problem("s3.endpoint", "must be an http:// or https:// URL, got '" + s3.endpoint() + "'");
    }
    if (!s3.bucket().isEmpty() && !BUCKET.matcher(s3.bucket()).matches()) {
      r.problem("s3.bucket", "not a valid bucket name: '" + s3.bucket() + "'");
    }
    String fallback = r.string("engine.cuda_fallback", false).toLowerCase(Locale.ROOT);
    if (!fallback.matches("none|cpu")) {
      r.problem("engine.cuda_fallback", "must be none or cpu, got '" + fallback + "'");
    }
    String jpegDecoder = r.string("engine.jpeg_decoder", false).toLowerCase(Locale.ROOT);
    if (!jpegDecoder.matches("auto|turbojpeg|imageio")) {
      r.problem("engine.jpeg_decoder", "must be auto, turbojpeg or imageio, got '" + jpegDecoder + "'");
    }
    EngineConfig engine = new EngineConfig(
        r.integer("engine.intra_op_threads", 0, 256),
        r.integer("engine.batch_size", 1, 256),
        r.longValue("engine.max_pixels", 1, Long.MAX_VALUE),
        fallback.equals("cpu"),
        jpegDecoder);
    List<String> devices = r.list("worker.devices");
    for (String d : devices) {
      if (!d.matches("auto|cpu|cuda:\\d+")) {
        r.problem("worker.devices", "each device must be auto, cpu or cuda:N, got '" + d + "'");
      }
    }
    if (devices.isEmpty()) {
      r.problem("worker.devices", "at least one device is required");
    }
    WorkerConfig worker = new WorkerConfig(devices,
        r.integer("worker.slots_per_device", 1, 64),
        r.integer("worker.chunk_size", 1, 10_000),
        r.integer("worker.lease_seconds", 1, 3600),
        r.integer("worker.decode_threads", 1, 256),
        r.integer("worker.io_threads", 1, 256),
        r.decimal("worker.max_failed_ratio", 0, 1),
        r.integer("worker.model_cache_size", 1, 64),
        r.integer("worker.max_attempts", 1, 100),
        r.integer("worker.retry_backoff_ms", 0, 600_000));
    LimitsConfig limits = new LimitsConfig(
        r.longValue("limits.max_upload_bytes", 1, Long.MAX_VALUE),
        r.integer("limits.max_files_per_upload", 1, 1_000_000),
        r.longValue("limits.max_json_body_bytes", 1024, Integer.MAX_VALUE),
        r.integer("limits.max_images_per_job", 1, 10_000_000),
        r.integer("limits.max_active_jobs_per_tenant", 0, 1_000_000),
        r.decimal("limits.rate_per_second", 0, 1_000_000),
        r.integer("limits.rate_burst", 1, 1_000_000),
        r.integer("limits.max_queued_tasks", 0, 1_000_000),
        r.integer("limits.max_streams_per_tenant", 0, 10_000_000),
        r.longValue("limits.upload_min_free_bytes", 0, Long.MAX_VALUE),
        r.integer("limits.upload_sweep_seconds", 10, 7 * 86_400),
        r.longValue("limits.max_image_bytes", 1024, Integer.MAX_VALUE - 8),
        r.longValue("limits.max_checkpoint_bytes", 1024, Long.MAX_VALUE));
    PretrainedConfig pretrained = new PretrainedConfig(
        r.string("pretrained.training_job_name", false),
        r.string("pretrained.model", false),
        r.string("pretrained.s3_key", false));
    AuthConfig auth = Auth.parse(r, clustered, roles.contains(Role.API), http);
    String metricsPublic = r.string("metrics.public", false).toLowerCase(Locale.ROOT);
    if (!metricsPublic.matches("auto|true|false")) {
      r.problem("metrics.public", "must be auto, true or false, got '" + metricsPublic + "'");
    }
    MetricsConfig metrics = new MetricsConfig(r.bool("metrics.enabled"),
        metricsPublic.equals("auto") ? http.loopback() || !auth.enabled() : metricsPublic.equals("true"));
    AppConfig.ResultsConfig results = new AppConfig.ResultsConfig(r.list("results.webhook_allowed_hosts"),
        r.integer("results.webhook_timeout_seconds", 1, 300), r.integer("results.webhook_max_attempts", 1, 100),
        r.longValue("results.webhook_retry_base_ms", 1, 86_400_000L),
        r.longValue("results.webhook_retry_max_ms", 1, 7L * 86_400_000L),
        r.integer("results.webhook_concurrency", 1, 1000), r.longValue("results.delivery_poll_ms", 10, 600_000),
        r.integer("results.max_concurrent_exports", 1, 1000), r.integer("results.retention_days", 0, 36_500),
        r.integer("results.retention_sweep_seconds", 1, 86_400));
    if (!r.problems.isEmpty()) {
      throw new ConfigException(r.problems);
    }
    return new AppConfig(Set.copyOf(roles), clustered, cluster, http, Path.of(dataDir).toAbsolutePath(), pg, s3, engine, worker,
        limits, pretrained, auth, metrics, management, results);
  }

  private static Set<String> allowedBuckets(Reader r) {
    Set<String> out = new java.util.LinkedHashSet<>();
    out.add(r.string("s3.bucket", false));
    for (String b : r.list("s3.allowed_buckets")) {
      if (!BUCKET.matcher(b).matches()) {
        r.problem("s3.allowed_buckets", "not a valid bucket name: '" + b + "'");
      }
      out.add(b);
    }
    return Set.copyOf(out);
  }

  /**
   * The S3 prefixes any write key may read images from: each {@code s3://bucket/prefix/}, in an allowed bucket, ending
   * with a slash (so that {@code photos/} never also covers {@code photos-private/}).
   */
  private static List<String> sharedInputs(Reader r) {
    List<String> out = new ArrayList<>();
    Set<String> allowed = allowedBuckets(new Reader(r.json, r.env));
    for (String p : r.list("s3.shared_inputs")) {
      java.util.regex.Matcher m = Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)").matcher(p);
      if (!m.matches() || !p.endsWith("/") || m.group(2).isEmpty() || m.group(2).contains("//")
          || Arrays.stream(m.group(2).split("/")).anyMatch(seg -> seg.equals(".") || seg.equals(".."))) {
        r.problem("s3.shared_inputs", "each entry must be s3://bucket/prefix/ (ending with '/', no empty, . or .. "
            + "segments), got '" + p + "'");
      } else if (!allowed.contains(m.group(1))) {
        r.problem("s3.shared_inputs", "bucket '" + m.group(1) + "' of '" + p + "' is not among the allowed buckets "
            + "(s3.bucket, s3.allowed_buckets)");
      } else {
        out.add(p);
      }
    }
    return List.copyOf(out);
  }

  static final class Reader {
    final JsonObject json;
    final Map<String, String> env;
    final List<String> problems = new ArrayList<>();

    Reader(JsonObject json, Map<String, String> env) {
      this.json = json;
      this.env = env;
    }

    void problem(String path, String reason) {
      String var = ENV.entrySet().stream().filter(e -> e.getValue().equals(path)).map(Map.Entry::getKey)
          .findFirst().orElse(null);
      problems.add(path + (var == null ? "" : " (" + var + ")") + ": " + reason);
    }

    Object raw(String path) {
      String[] parts = path.split("\\.");
      Object node = json;
      for (String p : parts) {
        if (!(node instanceof JsonObject obj)) {
          return null;
        }
        node = obj.getValue(p);
      }
      return node;
    }

    String string(String path, boolean mayBeEmpty) {
      Object v = raw(path);
      if (v == null || (!mayBeEmpty && v.toString().isBlank())) {
        problem(path, "missing");
        return "";
      }
      return v.toString().trim();
    }

    List<String> list(String path) {
      Object v = raw(path);
      if (v == null) {
        problem(path, "missing");
        return List.of();
      }
      String s = v instanceof io.vertx.core.json.JsonArray a ? String.join(",", a.stream().map(String::valueOf).toList())
          : v.toString();
      return Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
    }

    boolean bool(String path) {
      Object v = raw(path);
      if (v instanceof Boolean b) {
        return b;
      }
      String s = v == null ? "" : v.toString().trim().toLowerCase(Locale.ROOT);
      if (s.equals("true") || s.equals("false")) {
        return Boolean.parseBoolean(s);
      }
      problem(path, v == null ? "missing" : "must be true or false, got '" + v + "'");
      return false;
    }

    int integer(String path, int min, int max) {
      return (int) longValue(path, min, max);
    }

    long longValue(String path, long min, long max) {
      Object v = raw(path);
      if (v == null) {
        problem(path, "missing");
        return min;
      }
      try {
        long n = v instanceof Number num ? num.longValue() : Long.parseLong(v.toString().trim());
        if (n < min || n > max) {
          problem(path, "must be between " + min + " and " + max + ", got " + n);
        }
        return n;
      } catch (NumberFormatException e) {
        problem(path, "must be an integer, got '" + v + "'");
        return min;
      }
    }

    double decimal(String path, double min, double max) {
      Object v = raw(path);
      if (v == null) {
        problem(path, "missing");
        return min;
      }
      try {
        double n = v instanceof Number num ? num.doubleValue() : Double.parseDouble(v.toString().trim());
        if (!(n >= min && n <= max)) {
          problem(path, "must be between " + min + " and " + max + ", got " + n);
        }
        return n;
      } catch (NumberFormatException e) {
        problem(path, "must be a number, got '" + v + "'");
        return min;
      }
    }
  }
}
