package io.inferencejobs.webhooks;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Keeps webhooks from reaching into the service's own network: a URL must be http(s) with a host and no user info,
 * and every address its host resolves to must be public, unless the host is one of {@code allowedHosts}
 * (WEBHOOK_ALLOWED_HOSTS). Checked when a job is created and again before every delivery (a name may be re-pointed),
 * and deliveries connect to the address that was checked.
 */
public final class UrlGuard {
  private final Set<String> allowedHosts;

  public UrlGuard(List<String> allowedHosts) {
    this.allowedHosts = allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
  }

  /** The URL refused, with the reason (for a 400 naming {@code webhook.url}). */
  public static final class Refused extends Exception {
    private final boolean unresolved;

    public Refused(String message) {
      this(message, false);
    }

    Refused(String message, boolean unresolved) {
      super(message, null, false, false);
      this.unresolved = unresolved;
    }

    /** The host did not resolve (which may pass), rather than resolving somewhere refused. */
    public boolean unresolved() {
      return unresolved;
    }
  }

  /** A URL that passed: where to connect. */
  public record Target(URI uri, String host, int port, boolean tls, InetAddress address) {
    /** The path and query to request. */
    public String requestUri() {
      String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
      return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    }
  }

  /** The syntax alone (no name resolution): http(s), a host, no user info, no fragment. */
  public static URI parse(String url) throws Refused {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new Refused("is not a valid URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new Refused("must be an http:// or https:// URL; got scheme '" + scheme + "'");
    }
    if (uri.getHost() == null || uri.getHost().isEmpty()) {
      throw new Refused("must name a host");
    }
    if (uri.getRawUserInfo() != null) {
      throw new Refused("must not carry user info (put credentials in the secret, not the URL)");
    }
    if (uri.getRawFragment() != null) {
      throw new Refused("must not have a #fragment");
    }
    return uri;
  }

  /** Parses and resolves {@code url} (blocking: call it on a worker pool). */
  public Target check(String url) throws Refused {
    URI uri = parse(url);
    String host = uri.getHost();
    String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    boolean tls = uri.getScheme().equalsIgnoreCase("https");
    int port = uri.getPort() > 0 ? uri.getPort() : tls ? 443 : 80;
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(bare);
    } catch (UnknownHostException e) {
      throw new Refused("host '" + bare + "' does not resolve", true);
    }
    boolean allowed = allowedHosts.contains(bare.toLowerCase(Locale.ROOT));
    if (!allowed) {
      for (InetAddress a : addresses) {
        if (internal(a)) {
          throw new Refused("host '" + bare + "' resolves to " + a.getHostAddress() + ", a loopback, link-local or "
              + "private address; webhooks go to public addresses unless WEBHOOK_ALLOWED_HOSTS names the host");
        }
      }
    }
    return new Target(uri, bare, port, tls, addresses[0]);
  }

  /** Loopback, link-local, private, unique-local, shared (CGNAT), unspecified, multicast or otherwise reserved. */
  public static boolean internal(InetAddress a) {
    if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress() || a.isAnyLocalAddress()
        || a.isMulticastAddress()) {
      return true;
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int b0 = b[0] & 0xff;
      int b1 = b[1] & 0xff;
      return b0 == 0 || b0 >= 240 // this network, reserved and broadcast
          || (b0 == 100 && b1 >= 64 && b1 < 128) // shared address space (carrier-grade NAT)
          || (b0 == 192 && b1 == 0 && (b[2] & 0xff) == 0) // IETF protocol assignments
          || (b0 == 198 && (b1 == 18 || b1 == 19)); // benchmarking
    }
    if (a instanceof Inet6Address) {
      if ((b[0] & 0xfe) == 0xfc) {
        return true; // unique local fc00::/7
      }
      boolean mapped = true; // ::ffff:a.b.c.d, and NAT64 64:ff9b::a.b.c.d, carry an IPv4 address
      for (int i = 0; i < 10; i++) {
        mapped &= b[i] == 0;
      }
      mapped &= (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
      boolean nat64 = (b[0] & 0xff) == 0x00 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b;
      if (mapped || nat64) {
        try {
          return internal(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
        } catch (UnknownHostException e) {
          return true;
        }
      }
    }
    return false;
  }
}
