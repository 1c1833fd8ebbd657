package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.json.schema.JsonSchema;
import io.vertx.json.schema.SchemaRepository;
import io.vertx.json.schema.Validator;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.contract.Parameter;
import io.vertx.openapi.validation.RequestParameter;
import io.vertx.openapi.validation.ValidatableRequest;
import io.vertx.openapi.validation.ValidatedRequest;
import io.vertx.openapi.validation.impl.RequestValidatorImpl;
import io.vertx.openapi.validation.impl.ValidatedRequestImpl;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Request validation against the contract, with the library's own rules and messages, without two of its costs:
 * <ul>
 *   <li>the library builds a new schema validator for every parameter and body it checks (each copying the schema
 *       repository's lookup table); here each schema's validator is built once and reused (they hold no state);</li>
 *   <li>the library runs every validation through {@code executeBlocking} in order, so that all requests of an event
 *       loop were validated one at a time on the worker pool, with two thread hops each; here a small request is
 *       checked where it is (microseconds), and a large body on the worker pool without ordering.</li>
 * </ul>
 */
final class ContractValidator extends RequestValidatorImpl {
  /** More schemas than any contract of this service has: past it, validators are built and not kept. */
  static final int MAX_CACHED = 4096;

  private final Vertx vertx;
  private final OpenAPIContract original;
  private final Map<Identity, Validator> built;

  ContractValidator(Vertx vertx, OpenAPIContract contract) {
    this(vertx, contract, new ConcurrentHashMap<>());
  }

  private ContractValidator(Vertx vertx, OpenAPIContract contract, Map<Identity, Validator> built) {
    super(vertx, withCachedValidators(contract, built));
    this.vertx = vertx;
    this.original = contract;
    this.built = built;
  }

  /** How many schema validators are kept (for tests: one per schema of the contract that was used). */
  int cachedValidators() {
    return built.size();
  }

  /**
   * Validates {@code request} against {@code operationId}: here when {@code inline}, else on the worker pool, in
   * no particular order with other requests.
   */
  Future<ValidatedRequest> validate(ValidatableRequest request, String operationId, boolean inline) {
    Operation operation = original.operation(operationId);
    if (operation == null) {
      return super.validate(request, operationId); // fails saying so
    }
    if (!inline) {
      return vertx.executeBlocking(() -> check(operation, request), false);
    }
    try {
      return Future.succeededFuture(check(operation, request));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  private ValidatedRequest check(Operation operation, ValidatableRequest request) {
    Map<String, RequestParameter> cookies = new HashMap<>();
    Map<String, RequestParameter> headers = new HashMap<>();
    Map<String, RequestParameter> path = new HashMap<>();
    Map<String, RequestParameter> query = new HashMap<>();
    for (Parameter p : operation.getParameters()) {
      String name = p.getName();
      switch (p.getIn()) {
        case COOKIE -> cookies.put(name, validateParameter(p, request.getCookies().get(name)));
        case HEADER -> headers.put(name, validateParameter(p, request.getHeaders().get(name)));
        case PATH -> path.put(name, validateParameter(p, request.getPathParameters().get(name)));
        case QUERY -> query.put(name, validateParameter(p, request.getQuery().get(name)));
        default -> throw new IllegalStateException("parameter '" + name + "' in " + p.getIn());
      }
    }
    return new ValidatedRequestImpl(cookies, headers, path, query,
        validateBody(operation.getRequestBody(), request));
  }

  /** The contract as the library's validator reads it, its schema repository handing out one validator per schema. */
  private static OpenAPIContract withCachedValidators(OpenAPIContract contract, Map<Identity, Validator> built) {
    SchemaRepository repository = contract.getSchemaRepository();
    SchemaRepository caching = proxy(SchemaRepository.class, repository, (method, args) -> {
      if (!method.getName().equals("validator") || args == null || args.length != 1
          || !(args[0] instanceof JsonSchema s)) {
        return null;
      }
      Validator known = built.get(new Identity(s));
      if (known != null) {
        return known;
      }
      Validator made = repository.validator(s);
      if (built.size() < MAX_CACHED) {
        built.putIfAbsent(new Identity(s), made);
      }
      return made;
    });
    return proxy(OpenAPIContract.class, contract, (method, args) ->
        method.getName().equals("getSchemaRepository") && (args == null || args.length == 0) ? caching : null);
  }

  /** What an override answers, or null to let the call through to the target. */
  private interface Answer {
    Object answer(Method method, Object[] args);
  }

  private static <T> T proxy(Class<T> type, T target, Answer override) {
    InvocationHandler handler = (p, method, args) -> {
      Object answer = override.answer(method, args);
      if (answer != null) {
        return answer;
      }
      try {
        return method.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    };
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
  }

  /** A schema by identity: the contract's schema objects live as long as it does, and comparing them is costly. */
  private record Identity(Object schema) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Identity other && other.schema == schema;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(schema);
    }
  }
}
