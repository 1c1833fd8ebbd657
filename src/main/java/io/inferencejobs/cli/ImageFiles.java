package io.inferencejobs.cli;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/** What one {@code --image} value names: a file as is, a folder's image files, or the files a glob matches. */
final class ImageFiles {
  private static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "png", "bmp", "webp", "gif", "tif", "tiff");

  private ImageFiles() {
  }

  /** Sorted by path; a plain file is kept even if it does not exist (it is then reported as not found). */
  static List<String> expand(String value) throws IOException {
    Path path = Path.of(value);
    if (Files.isDirectory(path)) {
      try (Stream<Path> files = Files.list(path)) {
        List<String> out = files.filter(Files::isRegularFile).filter(ImageFiles::looksLikeImage).map(Path::toString)
            .sorted().toList();
        if (out.isEmpty()) {
          throw new IllegalArgumentException("the folder has no image files (" + String.join(", ",
              EXTENSIONS.stream().sorted().toList()) + ")");
        }
        return out;
      }
    }
    if (!isGlob(value) || Files.exists(path)) {
      return List.of(value);
    }
    // the folders before the first segment with a wildcard are walked; the rest is matched
    String[] parts = value.replace('\\', '/').split("/");
    StringBuilder base = new StringBuilder();
    int i = 0;
    for (; i < parts.length - 1 && !isGlob(parts[i]); i++) {
      base.append(parts[i]).append('/');
    }
    Path root = base.isEmpty() ? Path.of(".") : Path.of(base.toString());
    String pattern = String.join("/", java.util.Arrays.copyOfRange(parts, i, parts.length));
    PathMatcher glob = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
    // "**/" also matches no folder at all, as in shells with globstar
    PathMatcher top = pattern.startsWith("**/")
        ? FileSystems.getDefault().getPathMatcher("glob:" + pattern.substring(3)) : glob;
    PathMatcher matcher = p -> glob.matches(p) || top.matches(p);
    int depth = pattern.contains("**") ? Integer.MAX_VALUE : parts.length - i;
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException("matches no file (" + root + " is not a folder)");
    }
    try (Stream<Path> files = Files.walk(root, depth)) {
      List<String> out = files.filter(Files::isRegularFile).filter(f -> matcher.matches(root.relativize(f)))
          .map(f -> base.isEmpty() ? root.relativize(f).toString() : f.toString()).sorted().toList();
      if (out.isEmpty()) {
        throw new IllegalArgumentException("matches no file");
      }
      return out;
    }
  }

  private static boolean isGlob(String s) {
    return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0 || s.indexOf('{') >= 0;
  }

  private static boolean looksLikeImage(Path p) {
    String name = p.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
  }
}
