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
    String t = tokens.issue("dash", 1000);
    assertThat(tokens.verify(t, 1000).keyName()).isEqualTo("dash");
    assertThat(tokens.verify(t, 1299).keyName()).isEqualTo("dash");
    assertThat(tokens.verify(t, 1300).problem()).isEqualTo("token expired");
  }

  @Test
  void forgedTamperedAndMalformedTokensAreRefused() {
    String t = tokens.issue("dash", 1000);
    StreamTokens other = new StreamTokens("another-secret-of-thirty-two-characters".getBytes(StandardCharsets.UTF_8),
        300);
    assertThat(tokens.verify(other.issue("dash", 1000), 1000).problem()).contains("signature");
    String claims = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(new JsonObject().put("sub", "ops")
        .put("scope", "read").put("exp", 99999).encode().getBytes(StandardCharsets.UTF_8));
    assertThat(tokens.verify(claims + t.substring(t.indexOf('.')), 1000).problem()).contains("signature");
    assertThat(tokens.verify(tokens.sign(new JsonObject().put("sub", "x").put("scope", "write").put("exp", 5000)),
        1000).problem()).isEqualTo("malformed token");
    for (String bad : new String[] {"", ".", "abc", "a.b.c", "%%%.%%%", "x".repeat(3000)}) {
      assertThat(tokens.verify(bad, 1000).keyName()).as(bad).isNull();
    }
  }

  @Test
  void theRateLimiterLetsABurstThroughThenRefillsAtTheRate() {
    RateLimiter limiter = new RateLimiter(2, 3);
    long t = 0;
    assertThat(limiter.acquire("k", t)).isZero();
    assertThat(limiter.acquire("k", t)).isZero();
    assertThat(limiter.acquire("k", t)).isZero();
    assertThat(limiter.acquire("k", t)).isEqualTo(1);
    assertThat(limiter.acquire("other", t)).isZero();
    assertThat(limiter.acquire("k", t + 500_000_000L)).isZero();
    assertThat(new RateLimiter(0, 1).acquire("k", t)).isZero();
  }
}
