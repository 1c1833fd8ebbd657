package io.inferencejobs.cli;

public final class BenchEngineCommand {
  private BenchEngineCommand() {
  }

  public static int run(String[] args) {
    System.err.println("not built yet");
    return 1;
  }
}
