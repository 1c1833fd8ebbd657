package io.inferencejobs.storage;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A parsed {@code s3://bucket/key} URI. */
public record S3Uri(String bucket, String key) {
  private static final Pattern FORM = Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)");

  /**
   * Empty when {@code text} is not a well-formed S3 URI; the key may be empty (a whole bucket as prefix). A key with
   * an empty, {@code .} or {@code ..} segment, or a backslash, is not well-formed: some S3 servers and clients resolve
   * such segments like a file path, so {@code s3://b/shared/../private/x} could name an object outside the prefix it
   * seems to be under.
   */
  public static Optional<S3Uri> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Matcher m = FORM.matcher(text);
    if (!m.matches()) {
      return Optional.empty();
    }
    String key = m.group(2);
    if (key.contains("//") || key.startsWith("/") || key.indexOf('\\') >= 0) {
      return Optional.empty();
    }
    for (String segment : key.split("/")) {
      if (segment.equals(".") || segment.equals("..")) {
        return Optional.empty();
      }
    }
    return Optional.of(new S3Uri(m.group(1), key));
  }

  /** Whether this object or prefix lies under {@code prefix} (an {@code s3://bucket/prefix/} ending with a slash). */
  public boolean under(String prefix) {
    return toString().startsWith(prefix) && prefix.endsWith("/");
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
