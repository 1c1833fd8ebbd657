package io.inferencejobs.app;

final class ServeCommand {
  private ServeCommand() {
  }

  static int run(String[] args) {
    System.err.println("serve: not built yet");
    return 1;
  }
}
