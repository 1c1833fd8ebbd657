package io.inferencejobs.exports;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.WriteStream;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** An export holds one page at a time: pages already written can be collected while later ones are read. */
class ExportStreamerTest {
  private static final int PAGES = 40;

  @Test
  void pagesAlreadyWrittenAreNotKeptUntilTheEnd() {
    List<WeakReference<List<ExportedImage>>> served = new ArrayList<>();
    boolean[] firstPageCollected = {false};
    ExportStreamer.Pages pages = (after, limit) -> {
      int page = (after + 1) / limit;
      if (page == PAGES / 2) {
        // half-way: the first page was written long ago; nothing of the export may still hold it
        for (int i = 0; i < 5 && served.get(0).get() != null; i++) {
          System.gc();
        }
        firstPageCollected[0] = served.get(0).get() == null;
      }
      List<ExportedImage> list = new ArrayList<>();
      if (page < PAGES) {
        for (int i = 0; i < limit; i++) {
          int index = after + 1 + i;
          list.add(new ExportedImage(index, "image-" + index + ".jpg", "s3://b/k/" + index + ".jpg", 640, 480,
              new JsonArray().add(new JsonObject().put("class_id", 1).put("class_name", "bicycle")
                  .put("confidence", 0.5).put("bbox", new JsonObject().put("x1", 1).put("y1", 2).put("x2", 30)
                      .put("y2", 40))), null, null));
        }
      }
      served.add(new WeakReference<>(list));
      return Future.succeededFuture(list);
    };
    Counter out = new Counter();
    ExportStreamer.Written written = ExportStreamer.run(new CsvWriter(), pages, out).result();
    assertThat(written.images()).isEqualTo((long) PAGES * ExportStreamer.PAGE);
    assertThat(written.bytes()).isEqualTo(out.bytes).isPositive();
    assertThat(firstPageCollected[0]).as("the first page was still reachable half-way through the export").isTrue();
  }

  /** A write stream that only counts. */
  static final class Counter implements WriteStream<Buffer> {
    long bytes;

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public Future<Void> write(Buffer data) {
      bytes += data.length();
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      return this;
    }
  }
}
