package io.inferencejobs.app;

import io.inferencejobs.cli.PredictCommand;

import java.util.Arrays;

/**
 * Entry point of the service's jar: {@code serve} (default), {@code deps}, {@code hash-key}, {@code predict}. The
 * benchmarks are in a jar of their own ({@code inference-jobs-bench.jar}).
 */
public final class Main {

  private Main() {
  }

  public static void main(String[] args) {
    if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
      System.exit(usage(0));
    }
    String command = args.length == 0 || args[0].startsWith("-") ? "serve" : args[0];
    String[] rest = args.length == 0 || args[0].startsWith("-") ? args : Arrays.copyOfRange(args, 1, args.length);
    int code = switch (command) {
      case "serve" -> ServeCommand.run(rest);
      case "deps" -> DepsCommand.run(rest);
      case "hash-key" -> hashKey(rest);
      case "predict" -> PredictCommand.run(rest);
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
          help, --help   this text
        benchmarks: java -jar target/inference-jobs-bench.jar (beside this jar; see docs/benchmarks.md)
        """);
    return code;
  }
}
