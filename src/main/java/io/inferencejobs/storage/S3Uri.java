package io.inferencejobs.storage;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A parsed {@code s3://bucket/key} URI. */
public record S3Uri(String bucket, String key) {
  private static final Pattern FORM = Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)");

  /** Empty when {@code text} is not a well-formed S3 URI; the key may be empty (a whole bucket as prefix). */
  public static Optional<S3Uri> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Matcher m = FORM.matcher(text);
    if (!m.matches() || m.group(2).contains("//") || m.group(2).startsWith("/")) {
      return Optional.empty();
    }
    return Optional.of(new S3Uri(m.group(1), m.group(2)));
  }

  public String fileName() {
    int slash = key.lastIndexOf('/');
    return slash < 0 ? key : key.substring(slash + 1);
  }

  @Override
  public String toString() {
    return "s3://" + bucket + "/" + key;
  }
}
