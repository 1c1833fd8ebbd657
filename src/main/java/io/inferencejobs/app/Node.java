package io.inferencejobs.app;

import io.inferencejobs.api.ApiContext;
import io.inferencejobs.api.ApiNode;
import io.inferencejobs.bus.Addresses;
import io.inferencejobs.cluster.ClusterSetup;
import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.AppConfig.Role;
import io.inferencejobs.inference.DeviceProbe;
import io.inferencejobs.jobs.ChunkRepository;
import io.inferencejobs.jobs.DeliveryRepository;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.TrainingJobRepository;
import io.inferencejobs.jobs.UploadRepository;
import io.inferencejobs.jobs.WorkerRepository;
import io.inferencejobs.management.ManagementVerticle;
import io.inferencejobs.metrics.Metrics;
import io.inferencejobs.persistence.Database;
import io.inferencejobs.persistence.EmbeddedPostgresServer;
import io.inferencejobs.persistence.Migrations;
import io.inferencejobs.storage.EmbeddedS3Server;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.inferencejobs.webhooks.DeliveryVerticle;
import io.inferencejobs.worker.WorkerContext;
import io.inferencejobs.worker.WorkerVerticle;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One running node: its dependencies (embedded or external), the API verticle and/or one worker verticle per device,
 * chosen by the configured roles. {@link #close()} stops it gracefully.
 */
public final class Node implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Node.class);

  private final AppConfig config;
  private final Vertx vertx;
  private final String nodeId;
  private EmbeddedPostgresServer embeddedPg;
  private EmbeddedS3Server embeddedS3;
  private Pool pool;
  private Pool leasePool;
  /** Connections of a worker node's lease pool, beside {@code postgres.pool_size}. */
  public static final int LEASE_POOL_SIZE = 2;
  private S3Storage storage;
  private S3Storage workerStorage;
  private BoundedExecutor io;
  private BoundedExecutor workerIo;
  private BoundedExecutor decode;
  private JobRepository jobs;
  private ApiNode api;
  private ManagementVerticle management;
  private final List<String> deployments = new ArrayList<>();
  private final List<WorkerVerticle> workers = new ArrayList<>();

  private final Metrics metrics;
  private long gaugeTimer = -1;
  private final java.util.Map<String, java.util.concurrent.atomic.AtomicLong> stateCounts =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Node(AppConfig config, Vertx vertx, Metrics metrics) {
    this.config = config;
    this.vertx = vertx;
    this.metrics = metrics;
    this.nodeId = hostName() + "-" + ProcessHandle.current().pid() + "-" + UUID.randomUUID().toString().substring(0, 4);
  }

  /** Starts a node on a fresh Vert.x instance, clustered over Hazelcast when the configuration says so. */
  public static Future<Node> start(AppConfig config) {
    VertxOptions options = new VertxOptions().setPreferNativeTransport(false);
    // the domain meters always exist (cheap); Vert.x's own and the /metrics endpoint only when enabled
    Metrics metrics = Metrics.create();
    io.vertx.core.spi.VertxMetricsFactory factory = config.metrics().enabled() ? metrics.vertxFactory(options) : null;
    Future<Vertx> vertx = config.clustered() ? ClusterSetup.start(config.cluster(), options, factory)
        : Future.succeededFuture(factory == null ? Vertx.vertx(options)
            : Vertx.builder().with(options).withMetrics(factory).build());
    return vertx.compose(vx -> {
      Node node = new Node(config, vx, metrics);
      return node.boot().map(node).recover(err -> node.closeAsync().transform(x -> Future.failedFuture(err)));
    });
  }

  private Future<Void> boot() {
    long t0 = System.nanoTime();
    int queued = config.limits().maxQueuedTasks();
    io = new BoundedExecutor(vertx, "s3-io", config.worker().ioThreads(), queued);
    decode = new BoundedExecutor(vertx, "image-decode", config.worker().decodeThreads(), queued);
    metrics.gauge("pool_tasks_in_flight", "Tasks queued or running in a bounded pool", io::inFlight, "pool", io.name());
    metrics.gauge("pool_tasks_in_flight", "Tasks queued or running in a bounded pool", decode::inFlight, "pool",
        decode.name());
    if (config.hasRole(Role.WORKER)) {
      // the workers' S3 reads have a pool of their own: a burst of uploads cannot starve them, nor they uploads
      workerIo = new BoundedExecutor(vertx, "s3-worker", config.worker().ioThreads(), queued);
      metrics.gauge("pool_tasks_in_flight", "Tasks queued or running in a bounded pool", workerIo::inFlight, "pool",
          workerIo.name());
    }
    Future<Integer> pgPort = config.postgres().embedded()
        ? vertx.executeBlocking(() -> {
          embeddedPg = EmbeddedPostgresServer.start(config.dataDir(), config.postgres().embeddedPort());
          return embeddedPg.port();
        }, false)
        : Future.succeededFuture(0);
    Future<String> s3Endpoint = config.s3().embedded()
        ? vertx.executeBlocking(() -> {
          embeddedS3 = EmbeddedS3Server.start(config.dataDir(), config.s3().embeddedPort(), config.s3().accessKey(),
              config.s3().secretKey());
          return embeddedS3.endpoint();
        }, false)
        : Future.succeededFuture(config.s3().endpoint());
    return Future.all(pgPort, s3Endpoint).compose(ready -> {
      pool = Database.pool(vertx, config.postgres(), pgPort.result());
      if (config.hasRole(Role.WORKER)) {
        // leases, lease extensions and image lists on connections of their own: under load, the result writes
        // fill the main pool, and a free worker would otherwise wait behind them for its next chunk
        leasePool = Database.pool(vertx, config.postgres(), pgPort.result(), "pg-lease-pool", LEASE_POOL_SIZE);
      }
      storage = new S3Storage(config.s3(), s3Endpoint.result(), io);
      if (workerIo != null) {
        workerStorage = new S3Storage(config.s3(), s3Endpoint.result(), workerIo);
      }
      jobs = new JobRepository(pool, events -> events.forEach(
          e -> vertx.eventBus().publish(Addresses.JOBS_EVENTS, e.toJson())));
      // each dependency's failure names it and the settings to look at
      Future<Integer> migrated = Migrations.apply(pool)
          .recover(err -> Future.failedFuture(err instanceof Migrations.Refused ? err
              : StartupFailure.postgres(config.postgres(), pgPort.result(), err)));
      Future<Void> bucket = storage.checkCredentials()
          .compose(v -> storage.ensureBucket(config.s3().bucket()))
          .recover(err -> Future.failedFuture(err instanceof S3Storage.NoCredentials ? err
              : StartupFailure.s3(config.s3(), s3Endpoint.result(), err)));
      // both finish before a failure is reported: closing Vert.x under a check still running would spill its stack
      return Future.join(migrated, bucket);
    }).compose(v -> registerPretrained())
        .compose(v -> config.clustered() ? Future.succeededFuture(0) : new ChunkRepository(pool).releaseLeases(null))
        .compose(released -> {
          if (released > 0) {
            LOG.info("handed back {} chunks left leased by a previous run; their jobs resume", released);
          }
          return deployRoles();
        })
        .onSuccess(v -> {
          String url = "http://" + config.http().host() + ":" + (api == null ? config.http().port() : api.port()) + "/";
          LOG.info("node {} started in {} ms (roles {})", nodeId, (System.nanoTime() - t0) / 1_000_000,
              config.roles());
          String roles = config.roles().stream().map(r -> r.name().toLowerCase(java.util.Locale.ROOT)).sorted()
              .collect(java.util.stream.Collectors.joining(","));
          System.out.println(api != null
              ? "inference-jobs ready at " + url + "  (node " + nodeId + ", roles " + roles + "; contract: " + url
                  + "api/v1/openapi.json)"
              : "inference-jobs ready (node " + nodeId + ", roles " + roles + ")");
        });
  }

  /** The bundled COCO-80 checkpoint, in S3, owned by the training job {@code pretrained-coco80}. */
  private Future<Void> registerPretrained() {
    S3Uri target = new S3Uri(config.s3().bucket(), config.pretrained().s3Key());
    return storage.head(target).compose(info -> info.isPresent() ? Future.succeededFuture()
            : io.submit(this::readPretrained).compose(bytes -> storage.putBytes(target, bytes,
                "application/octet-stream")))
        .compose(v -> new TrainingJobRepository(pool).upsert(config.pretrained().trainingJobName(), "detection",
            null, new JsonObject().put("pretrained", target.toString())))
        .mapEmpty();
  }

  private byte[] readPretrained() throws Exception {
    String model = config.pretrained().model();
    if (model.startsWith("classpath:")) {
      try (InputStream in = Node.class.getResourceAsStream("/" + model.substring("classpath:".length()))) {
        if (in == null) {
          throw new IllegalStateException("pretrained model " + model + " is not in the jar");
        }
        return in.readAllBytes();
      }
    }
    return Files.readAllBytes(Path.of(model));
  }

  private Future<Void> deployRoles() {
    Future<Void> chain = Future.succeededFuture();
    if (config.hasRole(Role.WORKER)) {
      WorkerContext wc = new WorkerContext(config, jobs, new ChunkRepository(leasePool), new WorkerRepository(pool),
          workerStorage, decode, nodeId, metrics);
      for (String device : devices()) {
        WorkerVerticle w = new WorkerVerticle(wc, device);
        workers.add(w);
        chain = chain.compose(v -> vertx.deployVerticle(w).map(id -> {
          deployments.add(id);
          return null;
        }));
      }
    }
    if (config.hasRole(Role.API)) {
      DeliveryRepository deliveries = new DeliveryRepository(pool);
      TrainingJobRepository trainingJobs = new TrainingJobRepository(pool);
      // a training job changed on any node drops every node's cached copy (job creation reads the cache)
      vertx.eventBus().<Long>consumer(Addresses.TRAINING_JOBS_CHANGED, m -> trainingJobs.invalidate(m.body()));
      trainingJobs.onChange(id -> vertx.eventBus().publish(Addresses.TRAINING_JOBS_CHANGED, id));
      api = new ApiNode(new ApiContext(config, storage, jobs, trainingJobs,
          new UploadRepository(pool), new WorkerRepository(pool), io, metrics, deliveries));
      startJobGauges();
      // one API verticle per event loop, all on the same port: HTTP work (parsing, validation, JSON, SSE fan-out)
      // spreads over the cores
      ApiNode shared = api;
      chain = chain.compose(v -> vertx.deployVerticle(shared::newVerticle,
          new io.vertx.core.DeploymentOptions().setInstances(config.http().eventLoops())).map(id -> {
        deployments.add(id);
        return null;
      }));
      // webhooks and export files leave from API nodes: they hold the S3 pool and reach the outside
      chain = chain.compose(v -> vertx.deployVerticle(new DeliveryVerticle(config, deliveries, jobs, storage, io))
          .map(id -> {
            deployments.add(id);
            return null;
          }));
    }
    management = new ManagementVerticle(config.management(), new WorkerRepository(pool),
        storage, metrics, this::localWorkers);
    chain = chain.compose(v -> vertx.deployVerticle(management).map(id -> {
      deployments.add(id);
      return null;
    }));
    return chain;
  }

  /**
   * The worker devices: as configured, with {@code auto} standing for every visible GPU (honouring
   * CUDA_VISIBLE_DEVICES), or the CPU when there is none.
   */
  private List<String> devices() {
    List<String> out = new ArrayList<>();
    for (String d : config.worker().devices()) {
      if (d.equals("auto")) {
        List<String> found = DeviceProbe.discover(Path.of("/dev"),
            System.getenv("CUDA_VISIBLE_DEVICES"));
        LOG.info("worker devices auto: {}", found);
        out.addAll(found);
      } else {
        out.add(d);
      }
    }
    return out.stream().distinct().toList();
  }

  /** This node's workers, as the management port's readiness shows them. */
  private io.vertx.core.json.JsonArray localWorkers() {
    io.vertx.core.json.JsonArray out = new io.vertx.core.json.JsonArray();
    for (WorkerVerticle w : workers) {
      WorkerVerticle.State s = w.state();
      out.add(new JsonObject().put("worker_id", s.workerId()).put("device", s.device()).put("provider", s.provider())
          .put("degraded", s.degraded()).put("note", s.note()));
    }
    return out;
  }

  /** The management port this node listens on. */
  public int managementPort() {
    return management.port();
  }

  /**
   * Jobs by state and chunks by state (the queue depth), counted every few seconds by API nodes: a cheap grouped
   * count instead of counters that would drift across nodes and restarts.
   */
  private void startJobGauges() {
    for (String s : List.of("pending", "running", "completed", "failed", "cancelled")) {
      metrics.gauge("inference_jobs", "Jobs by state (whole cluster)", counter("job:" + s)::get, "state", s);
    }
    // pending: the queue depth; leased: in the hands of workers now
    for (String s : List.of("pending", "leased")) {
      metrics.gauge("inference_chunks_open", "Chunks not yet done, by state (whole cluster)",
          counter("chunk:" + s)::get, "state", s);
    }
    Runnable refresh = () -> jobs.stateCounts().onSuccess(counts -> stateCounts.forEach((k, v) ->
        v.set(counts.getOrDefault(k, 0L)))).onFailure(err -> LOG.debug("state counts failed: {}", err.toString()));
    refresh.run();
    gaugeTimer = vertx.setPeriodic(5000, id -> refresh.run());
  }

  private java.util.concurrent.atomic.AtomicLong counter(String key) {
    return stateCounts.computeIfAbsent(key, k -> new java.util.concurrent.atomic.AtomicLong());
  }

  /** This node's meters. */
  public Metrics metrics() {
    return metrics;
  }

  public int httpPort() {
    return api.port();
  }

  /** The PostgreSQL port this node uses (its embedded server's, or the configured one). */
  public int postgresPort() {
    return embeddedPg != null ? embeddedPg.port() : config.postgres().port();
  }

  /** The S3 endpoint this node uses (its embedded server's, or the configured one). */
  public String s3Endpoint() {
    return embeddedS3 != null ? embeddedS3.endpoint() : config.s3().endpoint();
  }

  public String nodeId() {
    return nodeId;
  }

  public Vertx vertx() {
    return vertx;
  }

  public Pool pool() {
    return pool;
  }

  public S3Storage storage() {
    return storage;
  }

  /** This node's retention sweeper, on API nodes (null otherwise). */
  public io.inferencejobs.api.RetentionSweeper retention() {
    return api == null ? null : api.retention();
  }

  public AppConfig config() {
    return config;
  }

  /** Undeploys the verticles (workers finish or hand back their chunks), then stops the dependencies. */
  public Future<Void> closeAsync() {
    if (gaugeTimer >= 0) {
      vertx.cancelTimer(gaugeTimer);
    }
    Future<Void> chain = Future.succeededFuture();
    for (int i = deployments.size() - 1; i >= 0; i--) {
      String id = deployments.get(i);
      chain = chain.compose(v -> vertx.undeploy(id)).recover(err -> Future.succeededFuture());
    }
    return chain
        .compose(v -> pool == null ? Future.<Void>succeededFuture() : pool.close().recover(e -> Future.succeededFuture()))
        .compose(v -> leasePool == null ? Future.<Void>succeededFuture()
            : leasePool.close().recover(e -> Future.succeededFuture()))
        .compose(v -> vertx.executeBlocking(() -> {
          if (storage != null) {
            storage.close();
          }
          if (workerStorage != null) {
            workerStorage.close();
          }
          if (embeddedS3 != null) {
            embeddedS3.close();
          }
          if (embeddedPg != null) {
            embeddedPg.close();
          }
          return null;
        }, false))
        .recover(err -> {
          LOG.warn("error while stopping: {}", err.toString());
          return Future.succeededFuture();
        })
        .compose(v -> vertx.close());
  }

  @Override
  public void close() throws Exception {
    closeAsync().toCompletionStage().toCompletableFuture().get();
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return "node";
    }
  }
}
