package io.inferencejobs.inference;

/** A model that cannot be loaded or run, or whose outputs the engine cannot read. */
public final class ModelException extends Exception {

  public ModelException(String message) {
    super(message);
  }

  public ModelException(String message, Throwable cause) {
    super(message, cause);
  }
}
