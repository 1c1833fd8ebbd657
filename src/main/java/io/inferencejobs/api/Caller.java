package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig.Scope;
import io.inferencejobs.jobs.TenantFilter;
import io.vertx.ext.web.RoutingContext;

import java.util.Set;

/**
 * Who made a request: the key (or the key a stream token was issued to), its tenant, the scopes it acts with and
 * whether it sees every tenant (admin keys, and stream tokens of admin keys). Absent when authentication is off.
 */
record Caller(String keyName, String tenant, Set<Scope> scopes, boolean seesAllTenants) {
  static final String KEY = "caller";

  boolean allows(Scope required) {
    return scopes.stream().anyMatch(s -> s.covers(required));
  }

  boolean admin() {
    return allows(Scope.ADMIN);
  }

  /** The caller of an authenticated request; null when authentication is off. */
  static Caller of(RoutingContext ctx) {
    return ctx.get(KEY);
  }

  /** Whose jobs the request may see: all without authentication or with an admin key, else its tenant's. */
  static TenantFilter filter(RoutingContext ctx) {
    Caller c = of(ctx);
    return c == null || c.seesAllTenants() ? TenantFilter.ALL : TenantFilter.only(c.tenant());
  }

  /** The tenant that owns what the request creates; null without authentication. */
  static String tenant(RoutingContext ctx) {
    Caller c = of(ctx);
    return c == null ? null : c.tenant();
  }

  /** Whether the request may name any object of the allowed buckets (admin keys, or no authentication). */
  static boolean unrestricted(RoutingContext ctx) {
    Caller c = of(ctx);
    return c == null || c.admin();
  }
}
