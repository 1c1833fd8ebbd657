package io.inferencejobs.api;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class StreamTokensTest {
  final StreamTokens tokens = new StreamTokens("a-secret-of-at-least-thirty-two-chars".getBytes(StandardCharsets.UTF_8),
      300);

  @Test
  void aTokenVerifiesUntilItExpires() {
    String t = tokens.issue("dash", "team-a", 1000);
    assertThat(tokens.verify(t, 1000).keyName()).isEqualTo("dash");
    assertThat(tokens.verify(t, 1000).tenant()).isEqualTo("team-a");
    assertThat(tokens.verify(t, 1299).keyName()).isEqualTo("dash");
    assertThat(tokens.verify(t, 1300).problem()).isEqualTo("token expired");
  }

  @Test
  void forgedTamperedAndMalformedTokensAreRefused() {
    String t = tokens.issue("dash", "team-a", 1000);
    StreamTokens other = new StreamTokens("another-secret-of-thirty-two-characters".getBytes(StandardCharsets.UTF_8),
        300);
    assertThat(tokens.verify(other.issue("dash", "team-a", 1000), 1000).problem()).contains("signature");
    String claims = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(new JsonObject().put("sub", "ops")
        .put("tnt", "ops").put("scope", "read").put("exp", 99999).encode().getBytes(StandardCharsets.UTF_8));
    assertThat(tokens.verify(claims + t.substring(t.indexOf('.')), 1000).problem()).contains("signature");
    assertThat(tokens.verify(tokens.sign(new JsonObject().put("sub", "x").put("tnt", "x").put("scope", "write")
        .put("exp", 5000)), 1000).problem()).isEqualTo("malformed token");
    // a token without a tenant (as issued before tenants existed) opens nothing
    assertThat(tokens.verify(tokens.sign(new JsonObject().put("sub", "x").put("scope", "read").put("exp", 5000)),
        1000).problem()).isEqualTo("malformed token");
    for (String bad : new String[] {"", ".", "abc", "a.b.c", "%%%.%%%", "x".repeat(3000)}) {
      assertThat(tokens.verify(bad, 1000).keyName()).as(bad).isNull();
    }
  }

  @Test
  void theTokenBucketLetsABurstThroughThenRefillsAtTheRate() {
    RateLimiter.Taken t = RateLimiter.take(null, 0, 2, 3);
    assertThat(t.waitSeconds()).isZero();
    t = RateLimiter.take(t.state(), 0, 2, 3);
    t = RateLimiter.take(t.state(), 0, 2, 3);
    assertThat(t.waitSeconds()).isZero();
    String empty = t.state();
    RateLimiter.Taken refused = RateLimiter.take(empty, 0, 2, 3);
    assertThat(refused.state()).isNull();
    assertThat(refused.waitSeconds()).isEqualTo(1);
    // half a second at 2 per second refills one token
    assertThat(RateLimiter.take(empty, 500, 2, 3).waitSeconds()).isZero();
    // a bucket never holds more than the burst, however long it rested
    RateLimiter.Taken rested = RateLimiter.take(empty, 3_600_000, 2, 3);
    assertThat(rested.state()).startsWith("2.0@");
    // at 0.5 per second an empty bucket waits two seconds
    assertThat(RateLimiter.take("0.0@0", 0, 0.5, 8).waitSeconds()).isEqualTo(2);
  }

  @Test
  void theRateLimiterKeepsOneBucketPerTenantInSharedData() throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      RateLimiter a = new RateLimiter(vertx, 0.001, 2);
      // a second limiter (another API verticle, or node) shares the buckets
      RateLimiter b = new RateLimiter(vertx, 0.001, 2);
      java.util.concurrent.TimeUnit s = java.util.concurrent.TimeUnit.SECONDS;
      assertThat(a.acquire("t1").await(10, s)).isZero();
      assertThat(b.acquire("t1").await(10, s)).isZero();
      assertThat(a.acquire("t1").await(10, s)).isPositive();
      assertThat(b.acquire("t2").await(10, s)).isZero();
      assertThat(new RateLimiter(vertx, 0, 1).acquire("t1").await(10, s)).isZero();
      // concurrent takes on one bucket: exactly the burst gets through
      RateLimiter c = new RateLimiter(vertx, 0.001, 5);
      java.util.List<io.vertx.core.Future<Integer>> all = new java.util.ArrayList<>();
      for (int i = 0; i < 20; i++) {
        all.add(c.acquire("t3"));
      }
      io.vertx.core.Future.all(all).await(10, s);
      assertThat(all.stream().filter(f -> f.result() == 0).count()).isEqualTo(5);
    } finally {
      vertx.close().await(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }
}
