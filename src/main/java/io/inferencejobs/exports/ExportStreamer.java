package io.inferencejobs.exports;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;

import java.util.List;

/**
 * Runs a {@link FormatWriter} over a job's images, page by page, into a write stream (an HTTP response, a file): one
 * page is read while nothing else is held, rendered, written, and the next page is read only once the stream has
 * room again. Memory stays that of one page whatever the job's size.
 */
public final class ExportStreamer {
  /** Images read per page. */
  public static final int PAGE = 500;
  /** Bytes gathered before a write. */
  private static final int FLUSH_BYTES = 64 * 1024;

  /** Reads up to {@code limit} processed images with an index above {@code afterIndex}, in index order. */
  @FunctionalInterface
  public interface Pages {
    Future<List<ExportedImage>> after(int afterIndex, int limit);
  }

  /** What one export wrote. */
  public record Written(long bytes, long images) {
  }

  private ExportStreamer() {
  }

  public static Future<Written> run(FormatWriter writer, Pages pages, WriteStream<Buffer> out) {
    Run run = new Run(writer, pages, out);
    return run.write(writer.start()).compose(v -> run.pass(0)).map(v -> new Written(run.bytes, run.images));
  }

  private static final class Run {
    private final FormatWriter writer;
    private final Pages pages;
    private final WriteStream<Buffer> out;
    private long bytes;
    private long images;
    /** The stream failed (the client went away): no more pages are read. */
    private Throwable failure;

    Run(FormatWriter writer, Pages pages, WriteStream<Buffer> out) {
      this.writer = writer;
      this.pages = pages;
      this.out = out;
    }

    Future<Void> pass(int pass) {
      return page(pass, -1).compose(v -> write(writer.afterPass(pass))).compose(v -> pass + 1 < writer.passes()
          ? pass(pass + 1) : write(writer.end()));
    }

    /**
     * Reads and writes the pages of one pass, one after the other. A loop over a promise, not a chain of composed
     * futures: a chain would keep every page's mapper (and what it captured) reachable until the last page is out.
     */
    private Future<Void> page(int pass, int after) {
      Promise<Void> done = Promise.promise();
      next(pass, after, done);
      return done.future();
    }

    private void next(int pass, int after, Promise<Void> done) {
      pages.after(after, PAGE).compose(list -> {
        Buffer[] chunk = {Buffer.buffer()};
        Future<Void> written = Future.succeededFuture();
        for (ExportedImage image : list) {
          if (pass == 0) {
            images++;
          }
          // one image at a time: an asynchronous piece (an annotated image) is made only once the last is out
          written = written.compose(v -> writer.render(pass, image)).compose(piece -> {
            chunk[0].appendBuffer(piece);
            if (chunk[0].length() < FLUSH_BYTES) {
              return Future.succeededFuture();
            }
            Buffer full = chunk[0];
            chunk[0] = Buffer.buffer();
            return write(full);
          });
        }
        int last = list.isEmpty() ? after : list.get(list.size() - 1).index();
        boolean more = list.size() == PAGE;
        return written.compose(v -> write(chunk[0])).map(v -> more ? last : null);
      }).onComplete(ar -> {
        if (ar.failed()) {
          done.fail(ar.cause());
        } else if (ar.result() == null) {
          done.complete();
        } else {
          next(pass, ar.result(), done);
        }
      });
    }

    /** Writes, then waits for room when the stream's queue is full. */
    Future<Void> write(Buffer buffer) {
      if (buffer.length() == 0) {
        return Future.succeededFuture();
      }
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      bytes += buffer.length();
      Future<Void> w = out.write(buffer).onFailure(err -> failure = err);
      if (w.failed() || !out.writeQueueFull()) {
        return w.failed() ? w : Future.succeededFuture();
      }
      Promise<Void> room = Promise.promise();
      out.drainHandler(v -> room.tryComplete());
      w.onFailure(room::tryFail);
      return room.future();
    }
  }
}
