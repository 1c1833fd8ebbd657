package io.inferencejobs.api;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Optional;

/**
 * Short-lived, HMAC-signed tokens for Server-Sent Events: EventSource cannot send an Authorization header, so a client
 * trades its key for a token ({@code POST /api/v1/stream-tokens}) and passes it as {@code ?access_token=}. A token
 * names the key it was issued to and that key's tenant, and only ever grants read. Form:
 * {@code base64url(json).base64url(hmac)}.
 */
public final class StreamTokens {
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  private final byte[] secret;
  private final int ttlSeconds;

  public StreamTokens(byte[] secret, int ttlSeconds) {
    this.secret = secret.clone();
    this.ttlSeconds = ttlSeconds;
  }

  public int ttlSeconds() {
    return ttlSeconds;
  }

  /** A token for {@code keyName} of {@code tenant}, valid until {@code nowEpochSeconds + ttl}. */
  public String issue(String keyName, String tenant, long nowEpochSeconds) {
    return sign(new JsonObject().put("sub", keyName).put("tnt", tenant).put("scope", "read")
        .put("exp", nowEpochSeconds + ttlSeconds));
  }

  /** Signs any claims; tests use it to make expired tokens. */
  public String sign(JsonObject claims) {
    String payload = B64.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8));
    return payload + "." + B64.encodeToString(mac(payload));
  }

  /** Why a token is refused, or the key name and tenant it was issued to. */
  public record Verdict(String keyName, String tenant, String problem) {
  }

  public Verdict verify(String token, long nowEpochSeconds) {
    int dot = token.lastIndexOf('.');
    if (dot <= 0 || token.length() > 2000) {
      return new Verdict(null, null, "malformed token");
    }
    String payload = token.substring(0, dot);
    byte[] signature;
    try {
      signature = B64D.decode(token.substring(dot + 1));
    } catch (IllegalArgumentException e) {
      return new Verdict(null, null, "malformed token");
    }
    if (!MessageDigest.isEqual(signature, mac(payload))) {
      return new Verdict(null, null, "token signature does not verify");
    }
    Optional<JsonObject> claims;
    try {
      claims = Optional.of(new JsonObject(new String(B64D.decode(payload), StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException | DecodeException | ClassCastException e) {
      claims = Optional.empty();
    }
    if (claims.isEmpty() || !(claims.get().getValue("exp") instanceof Number exp)
        || !(claims.get().getValue("sub") instanceof String sub)
        || !(claims.get().getValue("tnt") instanceof String tenant) || !"read".equals(claims.get().getValue("scope"))) {
      return new Verdict(null, null, "malformed token");
    }
    if (exp.longValue() <= nowEpochSeconds) {
      return new Verdict(null, null, "token expired");
    }
    return new Verdict(sub, tenant, null);
  }

  private byte[] mac(String payload) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return mac.doFinal(payload.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
