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
    PretrainedConfig pretrained) {

  public enum Role { API, WORKER }

  public boolean hasRole(Role role) {
    return roles.contains(role);
  }

  /** Hazelcast membership: this member's interface and port, the TCP-IP members to join, the cluster name. */
  public record ClusterConfig(String name, String configFile, String host, int port, java.util.List<String> members) {
  }

  public record HttpConfig(String host, int port, int sseHeartbeatSeconds) {
  }

  /** {@code host} empty means: start an embedded PostgreSQL under the data directory. */
  public record PostgresConfig(String host, int port, String database, String user, String password, int poolSize,
                               int embeddedPort) {
    public boolean embedded() {
      return host.isEmpty();
    }
  }

  /** {@code endpoint} empty means: start an embedded S3 server under the data directory. */
  public record S3Config(String endpoint, String region, String accessKey, String secretKey, String bucket,
                         int embeddedPort) {
    public boolean embedded() {
      return endpoint.isEmpty();
    }
  }

  public record EngineConfig(String device, int intraOpThreads, int batchSize, long maxPixels) {
  }

  public record WorkerConfig(
      java.util.List<String> devices,
      int slotsPerDevice,
      int chunkSize,
      int leaseSeconds,
      int decodeThreads,
      int ioThreads,
      double maxFailedRatio,
      int modelCacheSize) {
  }

  public record LimitsConfig(long maxUploadBytes, int maxFilesPerUpload, long maxJsonBodyBytes, int maxImagesPerJob) {
  }

  public record PretrainedConfig(String trainingJobName, String model, String s3Key) {
  }
}
