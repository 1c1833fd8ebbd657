package io.inferencejobs.cli;

import java.io.PrintStream;

/** Keeps a command's stdout for its results alone: everything else written to System.out (logs) goes to stderr. */
public final class CliOutput {

  private CliOutput() {
  }

  /** Returns the real stdout and points System.out at stderr, so that {@code predict --json} prints pure JSON. */
  public static synchronized PrintStream takeStdout() {
    PrintStream stdout = System.out;
    System.setOut(System.err);
    return stdout;
  }
}
