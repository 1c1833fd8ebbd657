package io.inferencejobs.api;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.SocketAddress;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Holds connections to account. A new connection must deliver its first request's headers within the header timeout,
 * or it is closed: a client that opens connections and sends half a request holds nothing for long. Later requests
 * on a kept-alive connection are bounded by the idle timeout, which bytes of an unfinished request head do not reset
 * (the idle handler sits behind the HTTP decoder), so a request head dripped a byte at a time is cut off too. Connections beyond the cap per client address or in total get one
 * answer, 503 with Retry-After, to their first request (or are closed after a second if none comes), and are closed.
 * Shared by every API verticle instance of the node.
 */
final class ConnectionGuard {
  /** How long a connection over a cap may take to send the request that is refused. */
  private static final long OVER_LIMIT_GRACE_MS = 1000;
  static final int RETRY_AFTER_SECONDS = 5;

  private final long headerTimeoutMs;
  private final int maxTotal;
  private final int maxPerAddress;
  private final AtomicInteger open = new AtomicInteger();
  private final Map<String, AtomicInteger> perAddress = new ConcurrentHashMap<>();
  private final Map<HttpConnection, State> states = new ConcurrentHashMap<>();

  private static final class State {
    final String address;
    final boolean overLimit;
    long timer = -1;

    State(String address, boolean overLimit) {
      this.address = address;
      this.overLimit = overLimit;
    }
  }

  ConnectionGuard(int headerTimeoutSeconds, int maxTotal, int maxPerAddress) {
    this.headerTimeoutMs = headerTimeoutSeconds * 1000L;
    this.maxTotal = maxTotal;
    this.maxPerAddress = maxPerAddress;
  }

  /** Open connections on this node (for the gauge and the tests). */
  int open() {
    return open.get();
  }

  /** A new connection: counted, and given until the header timeout (or the grace, when over a cap) for a request. */
  void onConnection(Vertx vertx, HttpConnection conn) {
    String address = address(conn.remoteAddress());
    int total = open.incrementAndGet();
    int fromAddress = perAddress.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet();
    boolean over = (maxTotal > 0 && total > maxTotal) || (maxPerAddress > 0 && fromAddress > maxPerAddress);
    State state = new State(address, over);
    states.put(conn, state);
    conn.closeHandler(v -> {
      State s = states.remove(conn);
      if (s != null) {
        vertx.cancelTimer(s.timer);
        open.decrementAndGet();
        perAddress.computeIfPresent(s.address, (a, n) -> n.decrementAndGet() <= 0 ? null : n);
      }
    });
    arm(vertx, conn, state, over ? OVER_LIMIT_GRACE_MS : headerTimeoutMs);
  }

  /**
   * A request's headers have arrived. Returns false when its connection is over a cap: it has been answered 503 and
   * the connection closes.
   */
  boolean admit(Vertx vertx, HttpServerRequest request) {
    State state = states.get(request.connection());
    if (state == null) {
      return true;
    }
    vertx.cancelTimer(state.timer);
    if (state.overLimit) {
      String reason = "too many open connections" + (maxPerAddress > 0 ? " from this address" : "")
          + "; retry later";
      ApiError error = ApiError.unavailable(reason, RETRY_AFTER_SECONDS);
      // the header only asks the client to go: Vert.x keeps a keep-alive connection open whatever the answer says,
      // so the node hangs up itself once the answer is out
      request.response().setStatusCode(503).putHeader("Content-Type", "application/json")
          .putHeader("Retry-After", Integer.toString(RETRY_AFTER_SECONDS)).putHeader("Connection", "close")
          .end(error.toJson().encode())
          .onComplete(ar -> request.connection().close());
      return false;
    }
    return true;
  }

  private static void arm(Vertx vertx, HttpConnection conn, State state, long ms) {
    vertx.cancelTimer(state.timer);
    state.timer = vertx.setTimer(ms, id -> conn.close());
  }

  private static String address(SocketAddress a) {
    return a == null ? "?" : a.hostAddress() != null ? a.hostAddress() : a.toString();
  }

  /** For tests: the addresses with open connections and their counts. */
  Map<String, Integer> byAddress() {
    Map<String, Integer> out = new java.util.TreeMap<>();
    perAddress.forEach((a, n) -> out.put(a, n.get()));
    return out;
  }
}
