package io.inferencejobs.config;

import java.nio.file.Path;
import java.util.Set;

/**
 * The whole configuration, parsed and validated once at start-up. Nothing reads a setting later.
 */
public record AppConfig(
    Set<Role> roles,
    boolean clustered,
    ClusterConfig cluster,
    HttpConfig http,
    Path dataDir,
    PostgresConfig postgres,
    S3Config s3,
    EngineConfig engine,
    WorkerConfig worker,
    LimitsConfig limits,
    PretrainedConfig pretrained,
    AuthConfig auth,
    MetricsConfig metrics,
    ManagementConfig management,
    ResultsConfig results) {

  public enum Role { API, WORKER }

  public boolean hasRole(Role role) {
    return roles.contains(role);
  }

  /**
   * Hazelcast membership: this member's interface and port, the TCP-IP members to join, the cluster name; the
   * event bus's own fixed port, and the address other members reach this one at ({@code publicHost}, for NAT'd nodes;
   * {@code host} when empty).
   */
  public record ClusterConfig(String name, String configFile, String host, int port, java.util.List<String> members,
                              int busPort, String publicHost) {
    public String advertisedHost() {
      return publicHost.isEmpty() ? host : publicHost;
    }
  }

  /** The management port every node opens: health and metrics, without a key (bind it where only operators reach). */
  /**
   * What happens to results after a job: webhook deliveries ({@code webhookAllowedHosts} may be private addresses;
   * retried with exponential backoff from {@code webhookRetryBaseMs}, capped at {@code webhookRetryMaxMs}, at most
   * {@code webhookMaxAttempts} tries), exports ({@code maxConcurrentExports} at once per node) and retention (ended jobs
   * and unused upload sessions older than {@code retentionDays} days are deleted; 0 keeps everything).
   */
  public record ResultsConfig(java.util.List<String> webhookAllowedHosts, int webhookTimeoutSeconds,
                              int webhookMaxAttempts, long webhookRetryBaseMs, long webhookRetryMaxMs,
                              int webhookConcurrency, long deliveryPollMs, int maxConcurrentExports, int retentionDays,
                              int retentionSweepSeconds) {
  }

  public record ManagementConfig(String host, int port) {
  }

  /**
   * {@code corsOrigins} empty: no cross-origin access (the UI is served from the same origin). A connection that
   * sends nothing for {@code idleTimeoutSeconds}, or takes longer than {@code headerTimeoutSeconds} to send a
   * request's headers, is closed; {@code maxConnections} and {@code maxConnectionsPerAddress} cap the open connections
   * (0: no cap).
   */
  public record HttpConfig(String host, int port, int sseHeartbeatSeconds, java.util.List<String> corsOrigins,
                           int idleTimeoutSeconds, int headerTimeoutSeconds, int maxConnections,
                           int maxConnectionsPerAddress, int instances) {
    /** API verticle instances (event loops serving HTTP): the setting, or one per core when it is 0. */
    public int eventLoops() {
      return instances > 0 ? instances : Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Whether the API listens on a loopback interface only (then it may run without keys). */
    public boolean loopback() {
      return isLoopback(host);
    }
  }

  static boolean isLoopback(String host) {
    return host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
  }

  /**
   * {@code host} empty means: start an embedded PostgreSQL under the data directory. {@code sslMode} is one of
   * disable, prefer, require, verify-ca, verify-full; {@code sslRootCert} a PEM file of the CA to trust (empty: the
   * JVM's).
   */
  public record PostgresConfig(String host, int port, String database, String user, String password, int poolSize,
                               int embeddedPort, String sslMode, String sslRootCert) {
    public boolean embedded() {
      return host.isEmpty();
    }
  }

  /** {@code endpoint} empty means: start an embedded S3 server under the data directory. */
  /**
   * {@code sharedInputs}: {@code s3://bucket/prefix/} URIs that any key with the write scope may use as image sources;
   * other image sources of non-admin keys are their own tenant's uploads. Empty keys with an external endpoint mean
   * the AWS SDK's default credentials chain; the embedded server has keys of its own.
   */
  public record S3Config(String endpoint, String region, String accessKey, String secretKey, String bucket,
                         int embeddedPort, Set<String> allowedBuckets, java.util.List<String> sharedInputs) {
    /** The embedded S3 server's keys, when none are configured (it runs beside the service, on loopback). */
    public static final String EMBEDDED_ACCESS_KEY = "inference-jobs";
    public static final String EMBEDDED_SECRET_KEY = "inference-jobs-secret";

    /** No keys configured: the AWS SDK's default credentials chain (environment, web identity, instance profile). */
    public boolean defaultCredentials() {
      return accessKey.isEmpty();
    }

    public boolean embedded() {
      return endpoint.isEmpty();
    }

    /** Checkpoints and images are read from these buckets only (the service's own bucket unless configured). */
    public boolean allowed(String bucketName) {
      return allowedBuckets.contains(bucketName);
    }
  }

  /**
   * {@code cudaFallback}: whether a worker asked for a CUDA device that cannot run CUDA may run on the CPU instead
   * (marked degraded); otherwise it fails to start. {@code jpegDecoder}: auto, turbojpeg or imageio.
   */
  public record EngineConfig(int intraOpThreads, int batchSize, long maxPixels, boolean cudaFallback,
                             String jpegDecoder) {
  }

  public record WorkerConfig(
      java.util.List<String> devices,
      int slotsPerDevice,
      int chunkSize,
      int leaseSeconds,
      int decodeThreads,
      int ioThreads,
      double maxFailedRatio,
      int modelCacheSize,
      int maxAttempts,
      int retryBackoffMs) {
  }

  /**
   * Request limits. The per-tenant ones ({@code maxActiveJobsPerTenant}, {@code ratePerSecond} with {@code rateBurst},
   * counted across the cluster, and {@code maxStreamsPerTenant}, per API node) apply to authenticated callers; 0 turns
   * one off. {@code maxQueuedTasks} bounds the backlog of each blocking pool. An upload is refused (507) when it would
   * leave less than {@code uploadMinFreeBytes} on the spool's disk; the objects of an upload that never committed are
   * removed {@code uploadSweepSeconds} after it started. A stored image over {@code maxImageBytes} or a checkpoint over
   * {@code maxCheckpointBytes} is refused from its length, before it is read.
   */
  public record LimitsConfig(long maxUploadBytes, int maxFilesPerUpload, long maxJsonBodyBytes, int maxImagesPerJob,
                             int maxActiveJobsPerTenant, double ratePerSecond, int rateBurst, int maxQueuedTasks,
                             int maxStreamsPerTenant, long uploadMinFreeBytes, int uploadSweepSeconds,
                             long maxImageBytes, long maxCheckpointBytes) {
  }

  /** What a key may do; each scope implies the ones before it (admin implies write implies read). */
  public enum Scope {
    READ, WRITE, ADMIN;

    public boolean covers(Scope required) {
      return ordinal() >= required.ordinal();
    }
  }

  /**
   * A configured API key: its name, scopes, the SHA-256 of the key (hex), and the tenant it belongs to (its own name
   * unless configured). What a key creates belongs to its tenant; only keys of that tenant, and admin keys, see it.
   */
  public record ApiKey(String name, Set<Scope> scopes, String sha256, String tenant) {
    public boolean allows(Scope required) {
      return scopes.stream().anyMatch(s -> s.covers(required));
    }

    /** Admin keys see and manage every tenant's jobs. */
    public boolean admin() {
      return allows(Scope.ADMIN);
    }
  }

  /**
   * Authentication. {@code tokenSecret} signs the short-lived stream tokens; every API node of a cluster needs the
   * same one (configured, or derived from the key hashes, which nodes with the same configuration share).
   */
  public record AuthConfig(boolean enabled, java.util.List<ApiKey> keys, byte[] tokenSecret, int streamTokenSeconds) {
  }

  /** {@code open}: /metrics answers without a key. */
  public record MetricsConfig(boolean enabled, boolean open) {
  }

  public record PretrainedConfig(String trainingJobName, String model, String s3Key) {
  }
}
