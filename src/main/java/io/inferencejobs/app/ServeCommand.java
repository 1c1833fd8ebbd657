package io.inferencejobs.app;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.ConfigException;
import io.inferencejobs.config.ConfigLoader;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** {@code serve}: starts a node with the configuration from conf/ and the environment. */
final class ServeCommand {
  private ServeCommand() {
  }

  /** The configuration from conf/ and the environment; null after printing every problem. */
  static AppConfig loadOrReport() {
    try {
      return ConfigLoader.load(System.getenv());
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return null;
    }
  }

  /**
   * One line: a failure that names its dependency and settings (StartupFailure, a refused migration, a device that
   * cannot run) says it all; anything else is followed down its causes.
   */
  static String reason(Throwable e) {
    Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof StartupFailure || cause instanceof io.inferencejobs.persistence.Migrations.Refused
        || cause instanceof io.inferencejobs.storage.S3Storage.NoCredentials || cause instanceof IllegalStateException) {
      return cause.getMessage();
    }
    StringBuilder why = new StringBuilder(String.valueOf(cause.getMessage()));
    for (Throwable c = cause.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      why.append(": ").append(c.getMessage());
    }
    return why.toString();
  }

  static int run(String[] args) {
    if (System.getProperty("vertx.logger-delegate-factory-class-name") == null) {
      System.setProperty("vertx.logger-delegate-factory-class-name", "io.vertx.core.logging.SLF4JLogDelegateFactory");
    }
    AppConfig config = loadOrReport();
    if (config == null) {
      return 2;
    }
    CompletableFuture<Node> started = Node.start(config).toCompletionStage().toCompletableFuture();
    Node node;
    try {
      node = started.get(10, TimeUnit.MINUTES);
    } catch (Exception e) {
      System.err.println("start failed: " + reason(e));
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.closeAsync().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // the process is going away anyway
      }
    }, "shutdown"));
    return 0;
  }
}
