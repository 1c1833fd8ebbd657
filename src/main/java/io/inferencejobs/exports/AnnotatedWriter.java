package io.inferencejobs.exports;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * A zip of the job's images with their predictions drawn ({@code images/<stem>.jpg}, stored as is), made one image at
 * a time. An image that cannot be read or drawn any more (its object was removed, its bytes changed) is listed with
 * the reason in {@code not-drawn.txt} and the others go on; failed images are listed there too.
 */
final class AnnotatedWriter implements FormatWriter {
  private final ImageDrawer drawer;
  private final ZipPieces zip = new ZipPieces();
  private final StringBuilder notDrawn = new StringBuilder();

  AnnotatedWriter(ImageDrawer drawer) {
    this.drawer = drawer;
  }

  @Override
  public Buffer start() {
    return Buffer.buffer();
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    throw new UnsupportedOperationException("annotated images are made asynchronously: call render");
  }

  @Override
  public Future<Buffer> render(int pass, ExportedImage image) {
    if (image.failed()) {
      notDrawn.append(image.index()).append('\t').append(image.name()).append("\tfailed: ").append(image.error())
          .append('\n');
      return Future.succeededFuture(Buffer.buffer());
    }
    String stem = zip.stem(image);
    return drawer.draw(image)
        .map(jpeg -> {
          zip.storedEntry("images/" + stem + ".jpg", jpeg);
          return zip.drain();
        })
        .recover(err -> {
          if (!(err instanceof ImageDrawer.NotDrawable)) {
            return Future.failedFuture(err);
          }
          notDrawn.append(image.index()).append('\t').append(image.name()).append('\t').append(err.getMessage())
              .append('\n');
          return Future.succeededFuture(Buffer.buffer());
        });
  }

  @Override
  public Buffer end() {
    if (!notDrawn.isEmpty()) {
      zip.entry("not-drawn.txt", ("index\tname\treason\n" + notDrawn).getBytes(StandardCharsets.UTF_8));
    }
    return zip.finish();
  }
}
