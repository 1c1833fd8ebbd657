package io.inferencejobs.api;

import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.validation.RequestParameter;
import io.vertx.openapi.validation.ValidatedRequest;

import java.util.Map;

/** Typed access to what the contract validator let through. */
final class Params {
  private Params() {
  }

  static ValidatedRequest of(RoutingContext ctx) {
    return ctx.get(RouterBuilder.KEY_META_DATA_VALIDATED_REQUEST);
  }

  static Long pathLong(RoutingContext ctx, String name) {
    return value(of(ctx).getPathParameters(), name, RequestParameter::getLong);
  }

  static Long queryLong(RoutingContext ctx, String name) {
    return value(of(ctx).getQuery(), name, RequestParameter::getLong);
  }

  static Integer queryInt(RoutingContext ctx, String name, Integer fallback) {
    Integer v = value(of(ctx).getQuery(), name, RequestParameter::getInteger);
    return v == null ? fallback : v;
  }

  static String queryString(RoutingContext ctx, String name) {
    return value(of(ctx).getQuery(), name, RequestParameter::getString);
  }

  static boolean queryBoolean(RoutingContext ctx, String name) {
    Boolean v = value(of(ctx).getQuery(), name, RequestParameter::getBoolean);
    return v != null && v;
  }

  /** A boolean query parameter, or null when it is absent. */
  static Boolean queryBooleanOrNull(RoutingContext ctx, String name) {
    return value(of(ctx).getQuery(), name, RequestParameter::getBoolean);
  }

  static Double queryDouble(RoutingContext ctx, String name) {
    return value(of(ctx).getQuery(), name, RequestParameter::getDouble);
  }

  /** An RFC 3339 date-time query parameter (a zone or offset is required), or null when it is absent. */
  static java.time.OffsetDateTime queryTime(RoutingContext ctx, String name) {
    String v = queryString(ctx, name);
    if (v == null) {
      return null;
    }
    try {
      return java.time.OffsetDateTime.parse(v);
    } catch (java.time.format.DateTimeParseException e) {
      throw ApiError.badRequest(name, "must be an RFC 3339 date-time with an offset, such as 2026-11-27T00:00:00Z");
    }
  }

  static String header(RoutingContext ctx, String name) {
    return ctx.request().getHeader(name);
  }

  /** The cursor parameter as a number (the contract restricts it to digits). */
  static Long cursor(RoutingContext ctx) {
    String c = queryString(ctx, "cursor");
    return c == null || c.isEmpty() ? null : Long.parseLong(c);
  }

  /**
   * Refuses a NUL character anywhere in a JSON body (keys included): PostgreSQL stores none in text or jsonb, and no
   * name, URI or label needs one.
   */
  static void rejectNul(Object value, String field) {
    if (value instanceof String s && s.indexOf('\u0000') >= 0) {
      throw ApiError.badRequest(field.isEmpty() ? "body" : field, "must not contain NUL characters");
    }
    if (value instanceof io.vertx.core.json.JsonObject o) {
      for (Map.Entry<String, Object> e : o) {
        String name = field.isEmpty() ? e.getKey() : field + "." + e.getKey();
        rejectNul(e.getKey(), name);
        rejectNul(e.getValue(), name);
      }
    } else if (value instanceof io.vertx.core.json.JsonArray a) {
      for (int i = 0; i < a.size(); i++) {
        rejectNul(a.getValue(i), field + "[" + i + "]");
      }
    }
  }

  private static <T> T value(Map<String, RequestParameter> map, String name,
                             java.util.function.Function<RequestParameter, T> get) {
    if (map == null) {
      return null;
    }
    RequestParameter p = map.get(name);
    return p == null || p.isNull() ? null : get.apply(p);
  }
}
