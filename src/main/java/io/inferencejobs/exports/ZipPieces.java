package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A zip written entry by entry, whose bytes are taken out after each entry so that it streams; and the unique,
 * file-system-safe stems of the images it holds.
 */
final class ZipPieces {
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final ZipOutputStream zip = new ZipOutputStream(bytes);
  private final Set<String> stems = new HashSet<>();

  /** A compressed entry. */
  void entry(String name, byte[] data) {
    put(new ZipEntry(name), data);
  }

  /** An entry kept as is (already compressed data, such as JPEG): no CPU spent deflating it again. */
  void storedEntry(String name, byte[] data) {
    ZipEntry e = new ZipEntry(name);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    e.setCompressedSize(data.length);
    e.setCrc(crc.getValue());
    put(e, data);
  }

  private void put(ZipEntry e, byte[] data) {
    try {
      zip.putNextEntry(e);
      zip.write(data);
      zip.closeEntry();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  /** What was written since the last call. */
  Buffer drain() {
    Buffer out = Buffer.buffer(bytes.toByteArray());
    bytes.reset();
    return out;
  }

  /** The central directory: the zip's last bytes. */
  Buffer finish() {
    try {
      zip.finish();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return drain();
  }

  /** The image's name without folders and extension, made unique within the zip. */
  String stem(ExportedImage image) {
    String name = image.name() == null ? "image" : image.name();
    name = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    int dot = name.lastIndexOf('.');
    String stem = (dot > 0 ? name.substring(0, dot) : name).replaceAll("[^\\w.-]", "_");
    if (stem.isEmpty() || stem.chars().allMatch(c -> c == '.')) {
      stem = "image";
    }
    if (stems.add(stem)) {
      return stem;
    }
    String candidate = stem + "_" + image.index();
    String s = candidate;
    for (int i = 2; !stems.add(s); i++) {
      s = candidate + "_" + i;
    }
    return s;
  }
}
