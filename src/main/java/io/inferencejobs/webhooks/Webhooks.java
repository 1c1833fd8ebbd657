package io.inferencejobs.webhooks;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;

/**
 * The Standard Webhooks convention: a secret is {@code whsec_} followed by the base64 of the key bytes (24 to 64
 * bytes); each delivery carries {@code webhook-id}, {@code webhook-timestamp} (Unix seconds) and
 * {@code webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body" with the key bytes>}.
 */
public final class Webhooks {
  public static final String SECRET_PREFIX = "whsec_";
  public static final int MIN_KEY_BYTES = 24;
  public static final int MAX_KEY_BYTES = 64;

  private Webhooks() {
  }

  /** What is wrong with {@code secret}, or null when it is a valid secret. */
  public static String secretProblem(String secret) {
    if (secret == null || !secret.startsWith(SECRET_PREFIX)) {
      return "must be whsec_ followed by the base64 of the key bytes";
    }
    byte[] key;
    try {
      key = Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
    } catch (IllegalArgumentException e) {
      return "the part after whsec_ is not valid base64";
    }
    if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
      return "the key must be " + MIN_KEY_BYTES + " to " + MAX_KEY_BYTES + " bytes; it is " + key.length;
    }
    return null;
  }

  /** The key bytes of a valid secret. */
  public static byte[] key(String secret) {
    return Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
  }

  /** The {@code webhook-signature} header's value. */
  public static String signature(byte[] key, String id, long timestampSeconds, String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      byte[] sig = mac.doFinal((id + "." + timestampSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
      return "v1," + Base64.getEncoder().encodeToString(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
