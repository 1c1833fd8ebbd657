package io.inferencejobs.inference;

/** An image that cannot be used; {@link #code()} says why in one word, the message says it as a sentence. */
public final class ImageException extends Exception {

  public static final String EMPTY = "empty";
  public static final String UNSUPPORTED_FORMAT = "unsupported_format";
  public static final String CORRUPT = "corrupt";
  public static final String TOO_LARGE = "too_large";
  public static final String TOO_SMALL = "too_small";

  private final String code;

  public ImageException(String code, String message) {
    super(message);
    this.code = code;
  }

  public ImageException(String code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public String code() {
    return code;
  }
}
