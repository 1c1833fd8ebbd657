package io.inferencejobs.jobs;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** How the result writes of one job queue: alone at once, together when they wait, by key, within a weight. */
@ExtendWith(VertxExtension.class)
class GroupQueueTest {

  /** Groups as they were run, each with the promise that ends it (the test decides when). */
  private final List<List<String>> groups = new CopyOnWriteArrayList<>();
  private final List<Promise<List<String>>> running = new CopyOnWriteArrayList<>();

  private GroupQueue<String, String, String> queue(int maxWeight) {
    return new GroupQueue<>((key, group) -> {
      groups.add(group);
      Promise<List<String>> p = Promise.promise();
      running.add(p);
      return p.future();
    }, String::length, maxWeight);
  }

  private static List<String> answers(List<String> group) {
    return group.stream().map(r -> "done " + r).toList();
  }

  @Test
  void aLoneRequestRunsAtOnceAndAlone() {
    GroupQueue<String, String, String> q = queue(100);
    Future<String> a = q.submit("job1", "a");
    assertThat(groups).containsExactly(List.of("a"));
    running.get(0).complete(answers(groups.get(0)));
    assertThat(a.result()).isEqualTo("done a");
    assertThat(q.inFlight()).isZero();
    // and the next one, with nothing in flight, runs at once too
    q.submit("job1", "b");
    assertThat(groups).hasSize(2).last().isEqualTo(List.of("b"));
  }

  @Test
  void requestsThatWaitRunTogetherInOrderAndEachGetsItsOwnAnswer() {
    GroupQueue<String, String, String> q = queue(100);
    Future<String> a = q.submit("job1", "a");
    Future<String> b = q.submit("job1", "b");
    Future<String> c = q.submit("job1", "c");
    assertThat(groups).containsExactly(List.of("a")); // b and c wait for a
    running.get(0).complete(answers(groups.get(0)));
    assertThat(groups).containsExactly(List.of("a"), List.of("b", "c"));
    assertThat(b.isComplete()).isFalse();
    running.get(1).complete(answers(groups.get(1)));
    assertThat(List.of(a.result(), b.result(), c.result())).containsExactly("done a", "done b", "done c");
    assertThat(q.inFlight()).isZero();
  }

  @Test
  void keysDoNotWaitForEachOther() {
    GroupQueue<String, String, String> q = queue(100);
    q.submit("job1", "a");
    q.submit("job2", "b");
    assertThat(groups).containsExactly(List.of("a"), List.of("b"));
    assertThat(q.inFlight()).isEqualTo(2);
  }

  @Test
  void aGroupStaysWithinTheWeightAndAHeavyRequestStillRuns() {
    GroupQueue<String, String, String> q = queue(4);
    q.submit("job1", "x");
    q.submit("job1", "aa");
    q.submit("job1", "bb"); // 2 + 2 = 4: at the limit, same group
    q.submit("job1", "c"); // past it: next group
    q.submit("job1", "dddddd"); // heavier than the limit alone: a group of its own
    running.get(0).complete(answers(groups.get(0)));
    running.get(1).complete(answers(groups.get(1)));
    running.get(2).complete(answers(groups.get(2)));
    assertThat(groups).containsExactly(List.of("x"), List.of("aa", "bb"), List.of("c"), List.of("dddddd"));
  }

  @Test
  void aFailedGroupFailsEachOfItsRequestsAndTheNextGroupStillRuns() {
    GroupQueue<String, String, String> q = queue(100);
    Future<String> a = q.submit("job1", "a");
    Future<String> b = q.submit("job1", "b");
    running.get(0).fail(new IllegalStateException("database gone"));
    assertThat(a.cause()).hasMessage("database gone");
    assertThat(groups).containsExactly(List.of("a"), List.of("b"));
    running.get(1).complete(answers(groups.get(1)));
    assertThat(b.result()).isEqualTo("done b");
    assertThat(q.inFlight()).isZero();
  }

  @Test
  void aGroupThatThrowsFailsItsRequestsAndReleasesTheKey() {
    GroupQueue<String, String, String> q = new GroupQueue<>((key, group) -> {
      throw new IllegalArgumentException("bad group");
    }, String::length, 100);
    assertThat(q.submit("job1", "a").cause()).hasMessage("bad group");
    assertThat(q.inFlight()).isZero();
  }

  @Test
  void eachAnswerArrivesOnItsSubmittersContext(Vertx vertx, VertxTestContext test) {
    GroupQueue<String, String, String> q = queue(100);
    Context first = vertx.getOrCreateContext();
    Context second = vertx.getOrCreateContext();
    var checkpoint = test.checkpoint(2);
    first.runOnContext(v -> {
      q.submit("job1", "a").onComplete(test.succeeding(r -> {
        test.verify(() -> assertThat(Vertx.currentContext()).isSameAs(first));
        checkpoint.flag();
      }));
      second.runOnContext(v2 -> {
        q.submit("job1", "b").onComplete(test.succeeding(r -> {
          test.verify(() -> assertThat(Vertx.currentContext()).isSameAs(second));
          checkpoint.flag();
        }));
        // both wait now: end their groups from a thread of no context
        new Thread(() -> {
          running.get(0).complete(answers(groups.get(0)));
          running.get(1).complete(answers(groups.get(1)));
        }).start();
      });
    });
  }
}
