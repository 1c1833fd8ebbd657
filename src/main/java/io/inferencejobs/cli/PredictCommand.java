package io.inferencejobs.cli;

public final class PredictCommand {
  private PredictCommand() {
  }

  public static int run(String[] args) {
    System.err.println("not built yet");
    return 1;
  }
}
