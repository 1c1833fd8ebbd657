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
      Throwable cause = e.getCause() == null ? e : e.getCause();
      StringBuilder why = new StringBuilder(String.valueOf(cause.getMessage()));
      for (Throwable c = cause.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
        why.append(": ").append(c.getMessage());
      }
      System.err.println("start failed: " + why);
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
