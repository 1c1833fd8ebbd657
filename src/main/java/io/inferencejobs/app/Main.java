package io.inferencejobs.app;

import io.inferencejobs.cli.BenchEngineCommand;
import io.inferencejobs.cli.PredictCommand;

import java.util.Arrays;

/** Entry point of the one jar: {@code serve} (default), {@code predict}, {@code bench-engine}. */
public final class Main {

  private Main() {
  }

  public static void main(String[] args) {
    String command = args.length == 0 || args[0].startsWith("-") ? "serve" : args[0];
    String[] rest = args.length == 0 || args[0].startsWith("-") ? args : Arrays.copyOfRange(args, 1, args.length);
    int code = switch (command) {
      case "serve" -> ServeCommand.run(rest);
      case "deps" -> DepsCommand.run(rest);
      case "hash-key" -> hashKey(rest);
      case "predict" -> PredictCommand.run(rest);
      case "bench-engine" -> BenchEngineCommand.run(rest);
      case "bench-service" -> io.inferencejobs.bench.BenchServiceCommand.run(rest);
      case "bench-sse" -> io.inferencejobs.bench.BenchSseCommand.run(rest);
      case "bench-cluster" -> io.inferencejobs.bench.BenchClusterCommand.run(rest);
      case "help", "--help", "-h" -> usage(0);
      default -> {
        System.err.println("unknown command: " + command);
        yield usage(2);
      }
    };
    if (code != 0 || !("serve".equals(command) || "deps".equals(command))) {
      System.exit(code);
    }
  }

  /** Prints the hash to configure for a key; the key itself is never configured. */
  private static int hashKey(String[] args) {
    if (args.length != 1 || args[0].length() < 16) {
      System.err.println("usage: java -jar inference-jobs.jar hash-key <key>   (a key of at least 16 characters; make "
          + "one with: openssl rand -base64 32)");
      return 2;
    }
    System.out.println(io.inferencejobs.config.Auth.hash(args[0]));
    return 0;
  }

  private static int usage(int code) {
    System.err.println("""
        usage: java -jar inference-jobs.jar [command] [options]
          serve          start the service (default)
          deps           run only the embedded PostgreSQL and S3 server (for a local cluster)
          hash-key KEY   print the SHA-256 of an API key, for API_KEYS (name:scopes:sha256)
          predict        run a model on image files: predict --model FILE --image FILE... [--json]
          bench-engine   benchmark the inference engine on the sample photos
          bench-service  benchmark the job service (started as a second process) under load
          bench-sse      benchmark SSE: concurrent streams and event delay at 1, 100, 10000 subscribers
          bench-cluster  benchmark a local cluster: 1 vs 2 worker processes, dispatch cost, failover time
        """);
    return code;
  }
}
