package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.AppConfig.ApiKey;
import io.inferencejobs.config.AppConfig.Scope;
import io.inferencejobs.config.Auth;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Authentication, authorisation and the per-key rate limit, before the body is read. The scope each operation needs
 * comes from the contract ({@code security: [{bearerAuth: [write]}]}; {@code security: []} is public). Requests that
 * match no operation (the UI's static files, unknown paths) pass on untouched.
 */
final class AuthHandler implements Handler<RoutingContext> {
  static final String PRINCIPAL = "principal";
  private static final String CHALLENGE = "Bearer realm=\"inference-jobs\"";

  private record Requirement(String method, Pattern path, String operationId, Scope scope, boolean stream) {
  }

  private final List<Requirement> requirements = new ArrayList<>();
  private final boolean enabled;
  private final boolean metricsOpen;
  private final Map<String, ApiKey> byHash = new HashMap<>();
  private final Map<String, ApiKey> byName = new HashMap<>();
  private final StreamTokens tokens;
  private final RateLimiter rates;

  AuthHandler(AppConfig config, JsonObject contract, StreamTokens tokens) {
    this.enabled = config.auth().enabled();
    this.metricsOpen = config.metrics().open();
    this.tokens = tokens;
    this.rates = new RateLimiter(config.limits().ratePerSecond(), config.limits().rateBurst());
    for (ApiKey k : config.auth().keys()) {
      byHash.put(k.sha256(), k);
      byName.put(k.name(), k);
    }
    JsonObject paths = contract.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      if (!path.startsWith("/") || !(paths.getValue(path) instanceof JsonObject ops)) {
        continue; // not a path item (the loader adds bookkeeping keys)
      }
      Pattern regex = Pattern.compile(path.replace(".", "\\.").replaceAll("\\{[^}]+}", "[^/]+"));
      for (String method : ops.fieldNames()) {
        if (!(ops.getValue(method) instanceof JsonObject op) || op.getString("operationId") == null) {
          continue;
        }
        requirements.add(new Requirement(method.toUpperCase(Locale.ROOT), regex, op.getString("operationId"),
            scopeOf(op), acceptsStreamToken(op)));
      }
    }
  }

  /**
   * Whether the operation takes {@code ?access_token=}: the event streams and the stored images, which browsers load
   * through EventSource and {@code <img>}, neither of which can send an Authorization header.
   */
  static boolean acceptsStreamToken(JsonObject op) {
    JsonArray params = op.getJsonArray("parameters");
    return params != null && params.encode().contains("access_token");
  }

  /** The scope the operation's security requirement names; null when it has none (public). */
  static Scope scopeOf(JsonObject op) {
    JsonArray security = op.getJsonArray("security");
    if (security == null) {
      throw new IllegalStateException("operation " + op.getString("operationId") + " declares no security");
    }
    for (Object o : security) {
      JsonArray scopes = ((JsonObject) o).getJsonArray("bearerAuth");
      if (scopes != null && !scopes.isEmpty()) {
        return Scope.valueOf(scopes.getString(0).toUpperCase(Locale.ROOT));
      }
    }
    return null;
  }

  /** The key (or stream token's key, with read only) of an authenticated request; null when auth is off. */
  static ApiKey principal(RoutingContext ctx) {
    return ctx.get(PRINCIPAL);
  }

  @Override
  public void handle(RoutingContext ctx) {
    Requirement req = match(ctx.request().method().name(), ctx.request().path());
    if (req == null || !enabled || req.scope() == null || (req.operationId().equals("getMetrics") && metricsOpen)) {
      ctx.next();
      return;
    }
    String bearer = bearer(ctx.request().getHeader("Authorization"));
    String token = req.stream() ? ctx.request().getParam("access_token") : null;
    if (bearer == null && (token == null || token.isEmpty())) {
      refuse(ctx, unauthorized("an API key is required: Authorization: Bearer <key>"
          + (req.stream() ? " or ?access_token=<stream token>" : ""), false));
      return;
    }
    ApiKey principal = bearer == null ? null : byHash.get(Auth.hash(bearer));
    if (principal == null && req.stream()) {
      String candidate = token != null && !token.isEmpty() ? token : bearer;
      StreamTokens.Verdict v = tokens.verify(candidate, System.currentTimeMillis() / 1000);
      if (v.problem() != null) {
        refuse(ctx, unauthorized(v.problem(), true));
        return;
      }
      ApiKey owner = byName.get(v.keyName());
      if (owner == null) {
        refuse(ctx, unauthorized("the key this token was issued to no longer exists", true));
        return;
      }
      principal = new ApiKey(owner.name(), Set.of(Scope.READ), owner.sha256());
    }
    if (principal == null) {
      refuse(ctx, unauthorized("unknown API key", true));
      return;
    }
    if (!principal.allows(req.scope())) {
      String reason = "key '" + principal.name() + "' lacks the " + req.scope().name().toLowerCase(Locale.ROOT)
          + " scope this operation needs";
      refuse(ctx, new ApiError(403, "forbidden", reason, List.of(new ApiError.Detail("Authorization", reason)),
          null));
      return;
    }
    int wait = rates.acquire(principal.name(), System.nanoTime());
    if (wait > 0) {
      refuse(ctx, ApiError.tooManyRequests(null, "key '" + principal.name() + "' is over its rate limit; retry after "
          + wait + " s", wait));
      return;
    }
    ctx.put(PRINCIPAL, principal);
    ctx.next();
  }

  private Requirement match(String method, String path) {
    for (Requirement r : requirements) {
      if (r.method().equals(method) && r.path().matcher(path).matches()) {
        return r;
      }
    }
    return null;
  }

  private static String bearer(String header) {
    if (header == null || header.length() < 8 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String v = header.substring(7).trim();
    return v.isEmpty() ? null : v;
  }

  private static ApiError unauthorized(String reason, boolean presented) {
    return new ApiError(401, "unauthorized", reason, List.of(new ApiError.Detail("Authorization", reason)), null)
        .withHeader("WWW-Authenticate", presented ? CHALLENGE + ", error=\"invalid_token\"" : CHALLENGE);
  }

  private static void refuse(RoutingContext ctx, ApiError error) {
    ErrorHandler.reply(ctx, error);
  }
}
