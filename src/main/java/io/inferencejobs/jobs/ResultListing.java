package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A job's per-image results as the results API lists them: in image order by keyset pages (cheap however large the
 * job), or sorted and filtered (one scan of the job's results per page, with the number of matches).
 */
public final class ResultListing {
  /** A listing's page, and how many results match its filters in all. */
  public record Listing(Page<JsonObject> page, long matched) {
  }

  /** Detections per class over a job, scored at least the listing's minimum. */
  public record ClassCount(int classId, String className, long count) {
  }

  private static final String COLUMNS = """
      i.image_index, i.image_name, i.s3_uri, r.width, r.height, r.predictions, r.num_detections,
      r.decode_time_ms, r.preprocessing_time_ms, r.inference_time_ms, r.postprocessing_time_ms, r.error,
      r.error_code, r.classifications""";

  /** A result's predictions and top classes as one list; a prediction's score is its confidence. */
  private static final String SCORED = "jsonb_array_elements(r.predictions || COALESCE(r.classifications, '[]'::jsonb))";
  private static final String SCORE = "COALESCE(p->>'confidence', p->>'score')::float8";

  /** Sort keys: fixed SQL per name (the contract lists the names), ties broken by image index. */
  private static final Map<String, String> ORDER = Map.of(
      "index", "i.image_index",
      "name", "i.image_name",
      "detections", "r.num_detections",
      "score", "(SELECT max(" + SCORE + ") FROM " + SCORED + " p)");

  private final Pool pool;

  public ResultListing(Pool pool) {
    this.pool = pool;
  }

  /** {@code total} is the job's processed images, which a listing without filters matches. */
  public Future<Listing> list(ResultQuery q, long total) {
    if (q.plain()) {
      return pool.preparedQuery("SELECT " + COLUMNS + """

                FROM job_images i JOIN image_results r ON r.job_id = i.job_id AND r.image_index = i.image_index
                WHERE i.job_id = $1 AND i.image_index > $2
                ORDER BY i.image_index OFFSET $3 LIMIT $4""")
          .execute(Tuple.of(q.jobId(), q.afterIndex(), q.skip(), q.limit() + 1))
          .map(rows -> {
            List<JsonObject> items = new ArrayList<>();
            rows.forEach(r -> items.add(item(r)));
            return new Listing(Page.of(items, q.limit(), r -> r.getInteger("image_index")), total);
          });
    }
    String key = ORDER.get(q.sort());
    if (key == null) {
      return Future.failedFuture(new IllegalArgumentException("unknown sort " + q.sort()));
    }
    String direction = q.descending() ? " DESC NULLS LAST" : " ASC NULLS LAST";
    // the count runs over every match; the cursor (image order only) and the page are taken after it
    String sql = "SELECT * FROM (SELECT " + COLUMNS + ", count(*) OVER () AS matched, " + key + " AS sort_key"
        + " FROM job_images i JOIN image_results r ON r.job_id = i.job_id AND r.image_index = i.image_index"
        + " WHERE i.job_id = $1 AND " + filters(5) + ") s"
        + " WHERE image_index > $2"
        + " ORDER BY sort_key" + direction + ", image_index" + (q.descending() ? " DESC" : "")
        + " OFFSET $3 LIMIT $4";
    return pool.preparedQuery(sql)
        .execute(Tuple.tuple(List.of(q.jobId(), q.afterIndex(), q.skip(), q.limit() + 1))
            .addValue(q.failed()).addValue(q.classId()).addValue(q.minScore()))
        .compose(rows -> {
          List<JsonObject> items = new ArrayList<>();
          long matched = -1;
          for (Row r : rows) {
            items.add(item(r));
            matched = r.getLong("matched");
          }
          Page<JsonObject> page = q.cursorAllowed()
              ? Page.of(items, q.limit(), r -> r.getInteger("image_index"))
              : new Page<>(items.size() > q.limit() ? items.subList(0, q.limit()) : items, null);
          if (matched >= 0) {
            return Future.succeededFuture(new Listing(page, matched));
          }
          // past the end: the page is empty, and the number of matches still counts
          return count(q).map(n -> new Listing(page, n));
        });
  }

  private Future<Long> count(ResultQuery q) {
    return pool.preparedQuery("SELECT count(*) FROM image_results r WHERE r.job_id = $1 AND " + filters(2))
        .execute(Tuple.of(q.jobId()).addValue(q.failed()).addValue(q.classId()).addValue(q.minScore()))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** The filters on result {@code r}, with failed, class id and minimum score as parameters {@code $n..$n+2}. */
  private static String filters(int n) {
    String failed = "$" + n;
    String classId = "$" + (n + 1);
    String minScore = "$" + (n + 2);
    return "(" + failed + "::boolean IS NULL OR (r.error IS NOT NULL) = " + failed + ")"
        + " AND ((" + classId + "::int IS NULL AND " + minScore + "::float8 IS NULL) OR EXISTS ("
        + "SELECT 1 FROM " + SCORED + " p"
        + " WHERE (" + classId + "::int IS NULL OR (p->>'class_id')::int = " + classId + ")"
        + " AND (" + minScore + "::float8 IS NULL OR " + SCORE + " >= " + minScore + ")))";
  }

  /** Detections (and top classes) per class over the whole job, scored {@code minScore} or more, most first. */
  public Future<List<ClassCount>> classCounts(long jobId, Double minScore) {
    return pool.preparedQuery("SELECT (p->>'class_id')::int AS class_id, max(p->>'class_name') AS class_name,"
            + " count(*) AS n FROM image_results r, " + SCORED + " p"
            + " WHERE r.job_id = $1 AND ($2::float8 IS NULL OR " + SCORE + " >= $2)"
            + " GROUP BY 1 ORDER BY 3 DESC, 1")
        .execute(Tuple.of(jobId).addValue(minScore))
        .map(rows -> {
          List<ClassCount> out = new ArrayList<>();
          rows.forEach(r -> out.add(new ClassCount(r.getInteger("class_id"), r.getString("class_name"),
              r.getLong("n"))));
          return out;
        });
  }

  private static JsonObject item(Row r) {
    JsonObject item = new JsonObject();
    if (r.getJson("classifications") instanceof JsonArray cls) {
      item.put("classifications", cls);
    }
    return item
        .put("image_index", r.getInteger("image_index"))
        .put("image_name", r.getString("image_name"))
        .put("s3_uri", r.getString("s3_uri"))
        .put("width", r.getInteger("width"))
        .put("height", r.getInteger("height"))
        .put("predictions", r.getJson("predictions"))
        .put("num_detections", r.getInteger("num_detections"))
        .put("decode_time_ms", r.getDouble("decode_time_ms"))
        .put("preprocessing_time_ms", r.getDouble("preprocessing_time_ms"))
        .put("inference_time_ms", r.getDouble("inference_time_ms"))
        .put("postprocessing_time_ms", r.getDouble("postprocessing_time_ms"))
        .put("error", r.getString("error"))
        .put("error_code", r.getString("error_code"));
  }
}
