package io.inferencejobs.it;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.openapi.contract.OpenAPIContract;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The operations of the contract as the tests need them: method, path template, scope, raw definition. */
final class Contract {
  record Op(String id, HttpMethod method, String path, String scope, JsonObject definition) {
    boolean isPublic() {
      return scope == null;
    }

    boolean stream() {
      return id.startsWith("stream");
    }

    /** The path with every {param} replaced. */
    String path(long jobId) {
      return path.replace("{inference_job_id}", Long.toString(jobId)).replace("{training_job_id}", "1")
          .replace("{image_index}", "0").replace("{name}", "best");
    }
  }

  final JsonObject raw;
  final List<Op> ops = new ArrayList<>();

  Contract(Vertx vertx) {
    raw = Api.await(OpenAPIContract.from(vertx, "openapi/inference-jobs.yaml")).getRawContract();
    JsonObject paths = raw.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      if (!(paths.getValue(path) instanceof JsonObject item)) {
        continue;
      }
      for (String method : item.fieldNames()) {
        if (item.getValue(method) instanceof JsonObject op && op.getString("operationId") != null) {
          ops.add(new Op(op.getString("operationId"), HttpMethod.valueOf(method.toUpperCase(Locale.ROOT)), path,
              scope(op), op));
        }
      }
    }
  }

  private static String scope(JsonObject op) {
    JsonArray security = op.getJsonArray("security", new JsonArray());
    for (Object o : security) {
      JsonArray scopes = ((JsonObject) o).getJsonArray("bearerAuth");
      if (scopes != null && !scopes.isEmpty()) {
        return scopes.getString(0);
      }
    }
    return null;
  }

  /** Resolves a local {@code $ref} ("#/components/..."); returns other values as they are. */
  JsonObject resolve(JsonObject schema) {
    JsonObject s = schema;
    while (s != null && s.getString("$ref") != null) {
      JsonObject node = raw;
      for (String part : s.getString("$ref").substring(2).split("/")) {
        node = node.getJsonObject(part);
      }
      s = node;
    }
    return s;
  }
}
