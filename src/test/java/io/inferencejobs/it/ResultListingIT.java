package io.inferencejobs.it;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The results API sorted and filtered, as the UI's gallery pages it: every order and filter is checked against the
 * plain listing of the same job (three photos and a missing image), sorted and filtered here.
 */
class ResultListingIT extends SharedServiceIT {
  static final Path IMAGES = Path.of("src/test/resources/images");
  static long job;
  static List<JsonObject> all;

  @BeforeAll
  static void runJob() {
    JsonObject up = api.upload(1, List.of(Map.entry("person.jpg", IMAGES.resolve("person.jpg")),
        Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")), Map.entry("horses.jpg", IMAGES.resolve("horses.jpg"))))
        .bodyAsJsonObject();
    JsonArray uris = new JsonArray();
    up.getJsonArray("uploaded_files").forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
    uris.add("s3://" + node.storage().bucket() + "/listing-it/gone.jpg");
    job = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    assertThat(api.awaitTerminal(job).getString("status")).isEqualTo("completed");
    all = api.allResults(job);
    assertThat(all).hasSize(4);
  }

  static JsonObject page(String query) {
    HttpResponse<Buffer> r = api.get(INF + "/jobs/" + job + "/results?" + query);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject();
  }

  static List<Integer> indexes(JsonObject page) {
    List<Integer> out = new ArrayList<>();
    page.getJsonArray("results").forEach(o -> out.add(((JsonObject) o).getInteger("image_index")));
    return out;
  }

  static double best(JsonObject r) {
    return r.getJsonArray("predictions").stream().mapToDouble(o -> ((JsonObject) o).getDouble("confidence"))
        .max().orElse(Double.NaN);
  }

  static List<Integer> expected(Predicate<JsonObject> keep, Comparator<JsonObject> order) {
    return all.stream().filter(keep).sorted(order).map(r -> r.getInteger("image_index")).toList();
  }

  @Test
  void everyOrderMatchesTheSameResultsSortedHere() {
    Comparator<JsonObject> byIndex = Comparator.comparing(r -> r.getInteger("image_index"));
    assertThat(indexes(page("sort=name"))).isEqualTo(
        expected(r -> true, Comparator.<JsonObject, String>comparing(r -> r.getString("image_name")).thenComparing(byIndex)));
    assertThat(indexes(page("sort=name&order=desc"))).isEqualTo(expected(r -> true,
        Comparator.<JsonObject, String>comparing(r -> r.getString("image_name")).reversed()
            .thenComparing(byIndex.reversed())));
    assertThat(indexes(page("sort=detections&order=desc"))).isEqualTo(expected(r -> true,
        Comparator.<JsonObject, Integer>comparing(r -> r.getInteger("num_detections")).reversed()
            .thenComparing(byIndex.reversed())));
    // the best score, with images that have none (the failed one) last either way
    List<Integer> scoreDesc = indexes(page("sort=score&order=desc"));
    assertThat(scoreDesc).isEqualTo(expected(r -> true, (a, b) -> {
      double x = best(a);
      double y = best(b);
      if (Double.isNaN(x) != Double.isNaN(y)) {
        return Double.isNaN(x) ? 1 : -1;
      }
      int c = Double.compare(y, x);
      return c != 0 ? c : Integer.compare(b.getInteger("image_index"), a.getInteger("image_index"));
    }));
    assertThat(all.get(scoreDesc.get(3)).getString("error")).isNotNull();
  }

  @Test
  void filtersKeepWhatTheyNameAndCountIt() {
    JsonObject failed = page("failed=true");
    assertThat(indexes(failed)).isEqualTo(expected(r -> r.getString("error") != null, Comparator.comparing(
        r -> r.getInteger("image_index"))));
    assertThat(failed.getInteger("matched_count")).isEqualTo(1);
    assertThat(failed.getInteger("total_count")).isEqualTo(4);
    assertThat(page("failed=false").getInteger("matched_count")).isEqualTo(3);

    // a class: images with a prediction of it scored at least the minimum
    int horse = 17;
    double min = 0.5;
    Predicate<JsonObject> hasHorse = r -> r.getJsonArray("predictions").stream().map(JsonObject.class::cast)
        .anyMatch(p -> p.getInteger("class_id") == horse && p.getDouble("confidence") >= min);
    List<Integer> horses = expected(hasHorse, Comparator.comparing(r -> r.getInteger("image_index")));
    assertThat(horses).isNotEmpty();
    JsonObject byClass = page("class_id=" + horse + "&min_score=" + min);
    assertThat(indexes(byClass)).isEqualTo(horses);
    assertThat(byClass.getInteger("matched_count")).isEqualTo(horses.size());
    // nothing scores above 1, and a class no image has matches nothing
    assertThat(page("min_score=1").getInteger("matched_count")).isZero();
    assertThat(page("class_id=79").getJsonArray("results")).isEmpty();
  }

  @Test
  void pagesBySkipCoverEveryMatchOnceAndPastTheEndStillCount() {
    List<Integer> seen = new ArrayList<>();
    for (int skip = 0; skip < 4; skip += 3) {
      JsonObject p = page("sort=detections&order=desc&limit=3&skip=" + skip);
      assertThat(p.getString("next_cursor")).isNull();
      assertThat(p.getInteger("matched_count")).isEqualTo(4);
      seen.addAll(indexes(p));
    }
    assertThat(seen).containsExactlyInAnyOrder(0, 1, 2, 3);
    JsonObject past = page("sort=name&skip=50");
    assertThat(past.getJsonArray("results")).isEmpty();
    assertThat(past.getInteger("matched_count")).isEqualTo(4);
    // image order with a filter still pages by cursor
    JsonObject first = page("failed=false&limit=2");
    assertThat(first.getString("next_cursor")).isNotNull();
    JsonObject second = page("failed=false&limit=2&cursor=" + first.getString("next_cursor"));
    assertThat(indexes(second)).hasSize(1);
    assertThat(second.getInteger("matched_count")).isEqualTo(3);
  }

  @Test
  void classCountsAreEveryDetectionOfTheJobPerClass() {
    double min = 0.4;
    Map<Integer, Long> want = new HashMap<>();
    for (JsonObject r : all) {
      for (Object o : r.getJsonArray("predictions")) {
        JsonObject p = (JsonObject) o;
        if (p.getDouble("confidence") >= min) {
          want.merge(p.getInteger("class_id"), 1L, Long::sum);
        }
      }
    }
    JsonObject p = page("class_counts=true&min_score=" + min + "&limit=1");
    Map<Integer, Long> got = new HashMap<>();
    p.getJsonArray("class_counts").forEach(o -> got.put(((JsonObject) o).getInteger("class_id"),
        ((JsonObject) o).getLong("count")));
    assertThat(got).isEqualTo(want);
    assertThat(p.getJsonArray("class_counts").getJsonObject(0).getString("class_name")).isNotBlank();
    assertThat(page("limit=1").containsKey("class_counts")).isFalse();
  }

  @Test
  void jobListingsFilterByCreationTime() {
    String created = api.get(INF + "/jobs/" + job).bodyAsJsonObject().getString("created_at");
    String encoded = java.net.URLEncoder.encode(created, java.nio.charset.StandardCharsets.UTF_8);
    Predicate<String> listed = query -> {
      HttpResponse<Buffer> r = api.get(INF + "/jobs?limit=1000&" + query);
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
      return r.bodyAsJsonObject().getJsonArray("jobs").stream()
          .anyMatch(o -> ((JsonObject) o).getLong("id") == job);
    };
    // from is inclusive, before exclusive: the job's own creation time is the edge of both
    assertThat(listed.test("created_from=" + encoded)).isTrue();
    assertThat(listed.test("created_before=" + encoded)).isFalse();
    assertThat(listed.test("created_before=" + java.net.URLEncoder.encode(
        java.time.OffsetDateTime.parse(created).plusNanos(1000).toString(), java.nio.charset.StandardCharsets.UTF_8)))
        .isTrue();
    assertThat(listed.test("created_from=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z")).isFalse();
    for (String bad : List.of("created_from=yesterday", "created_before=2026-11-27")) {
      HttpResponse<Buffer> r = api.get(INF + "/jobs?" + bad);
      assertThat(r.statusCode()).as(bad).isEqualTo(400);
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getJsonArray("details").getJsonObject(0)
          .getString("field")).isEqualTo(bad.substring(0, bad.indexOf('=')));
    }
  }

  @Test
  void badListingParametersAreNamed() {
    for (var bad : List.of(Map.entry("sort=size", "sort"), Map.entry("order=up", "order"),
        Map.entry("min_score=2", "min_score"), Map.entry("class_id=-1", "class_id"),
        Map.entry("failed=maybe", "failed"), Map.entry("sort=name&cursor=2", "cursor"))) {
      HttpResponse<Buffer> r = api.get(INF + "/jobs/" + job + "/results?" + bad.getKey());
      assertThat(r.statusCode()).as(bad.getKey()).isEqualTo(400);
      JsonObject err = r.bodyAsJsonObject().getJsonObject("error");
      assertThat(err.getJsonArray("details").getJsonObject(0).getString("field")).as(bad.getKey())
          .isEqualTo(bad.getValue());
    }
  }
}
