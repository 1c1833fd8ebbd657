package io.inferencejobs.exports;

import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.List;

/**
 * Writes a job's export files to S3 ({@code output: {s3_prefix, formats}}): each format is streamed to a file under
 * the node's data directory (bounded memory, like a download), then uploaded as {@code <prefix>job-<id>.<suffix>}
 * and the file removed.
 */
public final class ExportFiles {
  private ExportFiles() {
  }

  /** Writes every format; the result lists the files: {files: [{format, s3_uri, bytes, images}]}. */
  public static Future<JsonObject> write(Vertx vertx, S3Storage storage, Path tmpDir, long jobId,
                                         List<String> classNames, JsonObject output, ExportStreamer.Pages pages,
                                         ImageDrawer drawer) {
    S3Uri prefix = S3Uri.parse(output.getString("s3_prefix")).orElseThrow();
    JsonArray formats = output.getJsonArray("formats", new JsonArray());
    JsonArray files = new JsonArray();
    Future<Void> chain = vertx.fileSystem().mkdirs(tmpDir.toString());
    for (int i = 0; i < formats.size(); i++) {
      ExportFormat format = ExportFormat.parse(formats.getString(i)).orElseThrow();
      S3Uri target = new S3Uri(prefix.bucket(), prefix.key() + format.fileName(jobId));
      Path file = tmpDir.resolve("job-" + jobId + "-" + System.nanoTime() + "." + format.id());
      chain = chain.compose(v -> vertx.fileSystem().open(file.toString(),
              new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
          .compose(out -> ExportStreamer.run(format.writer(jobId, classNames, drawer), pages, out)
              .eventually(out::close))
          .compose(written -> storage.putFile(target, file, format.contentType())
              .map(x -> files.add(new JsonObject().put("format", format.id()).put("s3_uri", target.toString())
                  .put("bytes", written.bytes()).put("images", written.images()))))
          .eventually(() -> vertx.fileSystem().delete(file.toString()).recover(err -> Future.succeededFuture()))
          .mapEmpty());
    }
    return chain.map(v -> new JsonObject().put("files", files));
  }
}
