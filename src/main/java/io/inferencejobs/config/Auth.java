package io.inferencejobs.config;

import io.inferencejobs.config.AppConfig.ApiKey;
import io.inferencejobs.config.AppConfig.AuthConfig;
import io.inferencejobs.config.AppConfig.HttpConfig;
import io.inferencejobs.config.AppConfig.Scope;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * API keys and the stream-token secret. Keys are configured as {@code name:scope1+scope2:sha256hex[:tenant]} entries
 * (setting {@code auth.keys} / API_KEYS, comma-separated) or in a JSON file ({@code auth.keys_file}); only the SHA-256
 * of a key is ever configured, printed by {@code java -jar inference-jobs.jar hash-key <key>}. A key without a tenant
 * is a tenant of its own, named like the key; keys that name the same tenant share its jobs and limits.
 */
public final class Auth {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.@-]{1,64}");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

  private Auth() {
  }

  /** The hex SHA-256 of a key as presented by a client; the only form a key is stored or compared in. */
  public static String hash(String key) {
    return io.inferencejobs.support.Digests.sha256Hex(key);
  }

  static AuthConfig parse(ConfigLoader.Reader r, boolean clustered, boolean api, HttpConfig http) {
    List<ApiKey> keys = new ArrayList<>();
    for (String entry : r.list("auth.keys")) {
      ApiKey k = entry(r, "auth.keys", entry);
      if (k != null) {
        keys.add(k);
      }
    }
    String file = r.string("auth.keys_file", true);
    if (!file.isEmpty()) {
      keys.addAll(file(r, Path.of(file)));
    }
    Set<String> names = new HashSet<>();
    Set<String> hashes = new HashSet<>();
    for (ApiKey k : keys) {
      if (!names.add(k.name())) {
        r.problem("auth.keys", "key name '" + k.name() + "' appears twice");
      }
      if (!hashes.add(k.sha256())) {
        r.problem("auth.keys", "the same key hash appears twice (key '" + k.name() + "')");
      }
    }
    String enabledRaw = String.valueOf(r.raw("auth.enabled")).trim().toLowerCase(Locale.ROOT);
    boolean enabled;
    if (enabledRaw.equals("auto") || enabledRaw.isEmpty() || enabledRaw.equals("null")) {
      enabled = clustered || !keys.isEmpty();
    } else if (enabledRaw.equals("true") || enabledRaw.equals("false")) {
      enabled = Boolean.parseBoolean(enabledRaw);
    } else {
      r.problem("auth.enabled", "must be auto, true or false, got '" + enabledRaw + "'");
      enabled = true;
    }
    int ttl = r.integer("auth.stream_token_seconds", 5, 86_400);
    String secret = r.string("auth.token_secret", true);
    if (!secret.isEmpty() && secret.length() < 32) {
      r.problem("auth.token_secret", "must be at least 32 characters");
    }
    if (api && enabled && keys.isEmpty()) {
      r.problem("auth.keys", "authentication is on but no API key is configured (set API_KEYS or AUTH_KEYS_FILE; "
          + "hash a key with: java -jar inference-jobs.jar hash-key <key>)");
    }
    if (api && !enabled && !http.loopback()) {
      r.problem("auth.enabled", "the API would listen on " + http.host() + " without authentication; running open is "
          + "allowed on a loopback host only (configure API_KEYS)");
    }
    byte[] tokenSecret = !secret.isEmpty() ? secret.getBytes(StandardCharsets.UTF_8)
        : enabled ? derivedSecret(keys) : random();
    return new AuthConfig(enabled, List.copyOf(keys), tokenSecret, ttl);
  }

  /** Nodes with the same keys derive the same secret, so any API node verifies the tokens of the others. */
  static byte[] derivedSecret(List<ApiKey> keys) {
    List<String> lines = new ArrayList<>();
    for (ApiKey k : keys) {
      lines.add(k.name() + ":" + k.sha256());
    }
    lines.sort(null);
    return HexFormat.of().parseHex(hash("inference-jobs stream tokens\n" + String.join("\n", lines)));
  }

  private static byte[] random() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return b;
  }

  private static ApiKey entry(ConfigLoader.Reader r, String setting, String entry) {
    String[] parts = entry.split(":");
    if (parts.length != 3 && parts.length != 4) {
      r.problem(setting, "each key must be name:scope1+scope2:sha256hex[:tenant], got '" + abbreviate(entry) + "'");
      return null;
    }
    return key(r, setting, parts[0].trim(), List.of(parts[1].split("\\+")), parts[2].trim(),
        parts.length == 4 ? parts[3].trim() : null);
  }

  private static ApiKey key(ConfigLoader.Reader r, String setting, String name, List<String> scopeNames, String hex,
                            String tenant) {
    boolean ok = true;
    if (!NAME.matcher(name).matches()) {
      r.problem(setting, "key name must be 1-64 letters, digits or _.@-, got '" + abbreviate(name) + "'");
      ok = false;
    }
    if (tenant != null && !NAME.matcher(tenant).matches()) {
      r.problem(setting, "key '" + name + "': tenant must be 1-64 letters, digits or _.@-, got '"
          + abbreviate(tenant) + "'");
      ok = false;
    }
    Set<Scope> scopes = EnumSet.noneOf(Scope.class);
    for (String s : scopeNames) {
      try {
        scopes.add(Scope.valueOf(s.trim().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        r.problem(setting, "key '" + name + "': unknown scope '" + s.trim() + "' (expected read, write, admin)");
        ok = false;
      }
    }
    String h = hex.toLowerCase(Locale.ROOT);
    if (!HEX.matcher(h).matches()) {
      r.problem(setting, "key '" + name + "': the third part must be the key's SHA-256 as 64 hex digits (never the "
          + "key itself)");
      ok = false;
    }
    return ok && !scopes.isEmpty() ? new ApiKey(name, Set.copyOf(scopes), h, tenant == null ? name : tenant) : null;
  }

  private static List<ApiKey> file(ConfigLoader.Reader r, Path path) {
    List<ApiKey> out = new ArrayList<>();
    JsonArray entries;
    try {
      entries = new JsonArray(Files.readString(path));
    } catch (IOException | DecodeException e) {
      r.problem("auth.keys_file", "cannot read " + path + " as a JSON array: " + e.getMessage());
      return out;
    }
    for (Object o : entries) {
      ApiKey k = null;
      if (o instanceof String s) {
        k = entry(r, "auth.keys_file", s);
      } else if (o instanceof JsonObject j && j.getValue("scopes") instanceof JsonArray scopes) {
        k = key(r, "auth.keys_file", String.valueOf(j.getValue("name")),
            scopes.stream().map(String::valueOf).toList(), String.valueOf(j.getValue("sha256")),
            j.getValue("tenant") == null ? null : String.valueOf(j.getValue("tenant")));
      } else {
        r.problem("auth.keys_file", "each entry must be {\"name\", \"scopes\": [...], \"sha256\", \"tenant\"} "
            + "(tenant optional) or a name:scopes:sha256[:tenant] string");
      }
      if (k != null) {
        out.add(k);
      }
    }
    return out;
  }

  private static String abbreviate(String s) {
    return s.length() > 20 ? s.substring(0, 20) + "..." : s;
  }
}
