package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.AppConfig.ApiKey;
import io.inferencejobs.config.AppConfig.Scope;
import io.inferencejobs.config.Auth;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Authentication and authorisation. {@link #forOperation} makes the first handler of each operation's route, so the
 * decision is taken on the route the router matched (after it normalised the path), from that operation's security
 * requirement in the contract ({@code security: [{bearerAuth: [write]}]}; {@code security: []} is public). It runs
 * before the body is read, so a request without a valid key is refused unread. It never waits: the per-tenant rate
 * limit, which asks the cluster, comes after the body.
 */
final class AuthHandler {
  private static final String CHALLENGE = "Bearer realm=\"inference-jobs\"";

  private final boolean enabled;
  private final boolean metricsOpen;
  private final Map<String, ApiKey> byHash = new HashMap<>();
  private final Map<String, ApiKey> byName = new HashMap<>();
  private final StreamTokens tokens;

  AuthHandler(AppConfig config, StreamTokens tokens) {
    this.enabled = config.auth().enabled();
    this.metricsOpen = config.metrics().open();
    this.tokens = tokens;
    for (ApiKey k : config.auth().keys()) {
      byHash.put(k.sha256(), k);
      byName.put(k.name(), k);
    }
  }

  /** The handler that guards one operation, given its definition in the contract. */
  Handler<RoutingContext> forOperation(JsonObject operation) {
    String id = operation.getString("operationId");
    Scope scope = scopeOf(operation);
    boolean stream = acceptsStreamToken(operation);
    boolean open = !enabled || scope == null || (id.equals("getMetrics") && metricsOpen);
    return ctx -> {
      if (open) {
        ctx.next();
        return;
      }
      Caller caller = authenticate(ctx, scope, stream);
      if (caller != null) {
        ctx.put(Caller.KEY, caller);
        ctx.next();
      }
    };
  }

  /**
   * Whether the request carries an admin key in its Authorization header (or authentication is off). For the public
   * routes that say more to an operator than to anyone else; it refuses nothing.
   */
  boolean isAdmin(RoutingContext ctx) {
    if (!enabled) {
      return true;
    }
    ApiKey key = keyOf(bearer(ctx.request().getHeader("Authorization")));
    return key != null && key.admin();
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

  /** The caller, or null after the request has been refused (401 or 403). */
  private Caller authenticate(RoutingContext ctx, Scope scope, boolean stream) {
    String bearer = bearer(ctx.request().getHeader("Authorization"));
    String token = stream ? ctx.request().getParam("access_token") : null;
    if (bearer == null && (token == null || token.isEmpty())) {
      refuse(ctx, unauthorized("an API key is required: Authorization: Bearer <key>"
          + (stream ? " or ?access_token=<stream token>" : ""), false));
      return null;
    }
    ApiKey key = keyOf(bearer);
    Caller caller = key == null ? null : new Caller(key.name(), key.tenant(), key.scopes(), key.admin());
    if (caller == null && stream) {
      String candidate = token != null && !token.isEmpty() ? token : bearer;
      StreamTokens.Verdict v = tokens.verify(candidate, System.currentTimeMillis() / 1000);
      if (v.problem() != null) {
        refuse(ctx, unauthorized(v.problem(), true));
        return null;
      }
      ApiKey owner = byName.get(v.keyName());
      if (owner == null || !owner.tenant().equals(v.tenant())) {
        refuse(ctx, unauthorized("the key this token was issued to no longer exists in its tenant", true));
        return null;
      }
      // a token reads, and sees what its key sees
      caller = new Caller(owner.name(), owner.tenant(), Set.of(Scope.READ), owner.admin());
    }
    if (caller == null) {
      refuse(ctx, unauthorized("unknown API key", true));
      return null;
    }
    if (!caller.allows(scope)) {
      String reason = "key '" + caller.keyName() + "' lacks the " + scope.name().toLowerCase(Locale.ROOT)
          + " scope this operation needs";
      refuse(ctx, new ApiError(403, "forbidden", reason, List.of(new ApiError.Detail("Authorization", reason)),
          null));
      return null;
    }
    return caller;
  }

  /** The configured key a bearer value is, or null. */
  private ApiKey keyOf(String bearer) {
    return bearer == null ? null : byHash.get(Auth.hash(bearer));
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
