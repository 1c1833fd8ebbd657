package io.inferencejobs.bench;

import java.util.Arrays;

/**
 * Entry point of the benchmark jar ({@code target/inference-jobs-bench.jar}, built beside the service's jar and
 * reading the service's classes from it): the benchmarks live apart from the product.
 */
public final class BenchMain {
  private BenchMain() {
  }

  public static void main(String[] args) {
    String command = args.length == 0 ? "help" : args[0];
    String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
    int code = switch (command) {
      case "bench-engine" -> BenchEngineCommand.run(rest);
      case "bench-service" -> BenchServiceCommand.run(rest);
      case "bench-sse" -> BenchSseCommand.run(rest);
      case "bench-cluster" -> BenchClusterCommand.run(rest);
      case "bench-export" -> BenchExportCommand.run(rest);
      case "bench-tasks" -> BenchTasksCommand.run(rest);
      case "help", "--help", "-h" -> usage(0);
      default -> {
        System.err.println("unknown benchmark: " + command);
        yield usage(2);
      }
    };
    System.exit(code);
  }

  private static int usage(int code) {
    System.err.println("""
        usage: java -jar target/inference-jobs-bench.jar <benchmark> [options]
          bench-engine   the inference engine on the sample photos
          bench-service  the job service (started as a second process) under load
          bench-sse      SSE: concurrent streams and event delay at 1, 100, 10000 subscribers
          bench-cluster  a local cluster: 1 vs 2 worker processes, dispatch cost, failover time
          bench-tasks    detect, segment and pose models: model time vs postprocessing (masks), result sizes
          bench-export   exporting a 100,000-result job as COCO, CSV and JSONL at -Xmx512m: time, heap, results/s
        """);
    return code;
  }
}
