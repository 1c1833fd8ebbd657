package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** How a write's finished images are split into {@code images} events. */
class ImagesEventsTest {

  private static JsonArray images(int n, int nameLength) {
    JsonArray out = new JsonArray();
    for (int i = 0; i < n; i++) {
      out.add(new JsonObject().put("image_index", i).put("image_name", "x".repeat(nameLength))
          .put("num_detections", 1).putNull("error"));
    }
    return out;
  }

  /** The events' texts, each checked to say what its data says. */
  private static List<String> texts(List<JobRepository.ImagesPayload> events) {
    List<String> out = new ArrayList<>();
    for (JobRepository.ImagesPayload e : events) {
      assertThat(new JsonObject(e.text())).isEqualTo(e.data());
      out.add(e.text());
    }
    return out;
  }

  private static List<Integer> listed(List<String> events) {
    List<Integer> out = new ArrayList<>();
    for (String e : events) {
      new JsonObject(e).getJsonArray("images").forEach(i -> out.add(((JsonObject) i).getInteger("image_index")));
    }
    return out;
  }

  @Test
  void noImagesNoEvent() {
    assertThat(JobRepository.imagesEvents(new JsonArray())).isEmpty();
  }

  @Test
  void atTheCountLimitOneEventPastItTwo() {
    List<String> at = texts(JobRepository.imagesEvents(images(JobRepository.MAX_IMAGES_PER_EVENT, 5)));
    assertThat(at).hasSize(1);
    assertThat(new JsonObject(at.get(0)).getJsonArray("images")).hasSize(JobRepository.MAX_IMAGES_PER_EVENT);

    List<String> past = texts(JobRepository.imagesEvents(images(JobRepository.MAX_IMAGES_PER_EVENT + 1, 5)));
    assertThat(past).hasSize(2);
    assertThat(new JsonObject(past.get(1)).getJsonArray("images")).hasSize(1);
    assertThat(listed(past)).hasSize(JobRepository.MAX_IMAGES_PER_EVENT + 1).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void longNamesSplitByBytesEachImageOnceInOrder() {
    // 1,000-character names: about 32 per event
    List<String> events = texts(JobRepository.imagesEvents(images(200, 1000)));
    assertThat(events.size()).isGreaterThan(5);
    for (String e : events) {
      int entries = new JsonObject(e).getJsonArray("images").size();
      assertThat(e.length()).as("an event of %d images", entries)
          .isLessThanOrEqualTo(JobRepository.MAX_IMAGES_EVENT_BYTES + 100);
    }
    assertThat(listed(events)).hasSize(200).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void anImageLargerThanTheByteLimitStillGetsItsOwnEvent() {
    JsonArray images = images(3, 10);
    images.getJsonObject(1).put("image_name", "y".repeat(JobRepository.MAX_IMAGES_EVENT_BYTES + 10));
    List<String> events = texts(JobRepository.imagesEvents(images));
    assertThat(events).hasSize(3);
    assertThat(listed(events)).containsExactly(0, 1, 2);
  }
}
