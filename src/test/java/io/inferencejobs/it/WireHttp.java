package io.inferencejobs.it;

import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 written and read byte by byte on a plain socket, for what a well-behaved client never does: connect from a
 * chosen loopback address, send half a request, a body without its end, or leave in the middle.
 */
final class WireHttp {
  /** The most a test waits for one blocking read before it fails. */
  static final int READ_TIMEOUT_MS = 20_000;

  record Response(int status, Map<String, String> headers, byte[] body) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    JsonObject json() {
      return new JsonObject(text());
    }

    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    @Override
    public String toString() {
      String t = text();
      return status + " " + headers + " " + (t.length() > 300 ? t.substring(0, 300) + "..." : t);
    }
  }

  private WireHttp() {
  }

  /** A connection to the node on 127.0.0.1 from {@code localAddress} (any address of 127/8 is this machine). */
  static Socket connect(int port, String localAddress) throws IOException {
    Socket s = new Socket(InetAddress.getByName("127.0.0.1"), port, InetAddress.getByName(localAddress), 0);
    s.setSoTimeout(READ_TIMEOUT_MS);
    return s;
  }

  /** Sends a whole request (head and body as given) on a new connection and reads the one response. */
  static Response exchange(int port, String localAddress, String request) throws IOException {
    try (Socket s = connect(port, localAddress)) {
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      return read(s.getInputStream());
    }
  }

  /**
   * One request on a new connection with Connection: close, the target sent byte for byte as given (no client
   * library tidies {@code //}, {@code /./}, {@code ..} or percent-escapes on the way). An event stream's body is left
   * unread: its status and headers are the answer.
   */
  static Response send(int port, String method, String target, Map<String, String> headers, byte[] body) {
    try (Socket s = connect(port, "127.0.0.1")) {
      StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
          .append("Host: 127.0.0.1:").append(port).append("\r\nConnection: close\r\n");
      headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
      if (body != null) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      s.getOutputStream().write(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
      if (body != null) {
        s.getOutputStream().write(body);
      }
      s.getOutputStream().flush();
      Response r = readHead(s.getInputStream());
      return r.header("Content-Type") != null && r.header("Content-Type").startsWith("text/event-stream") ? r
          : readBody(s.getInputStream(), r);
    } catch (IOException e) {
      throw new AssertionError(method + " " + target + ": " + e, e);
    }
  }

  /** GET {@code path} with Connection: close. */
  static Response get(int port, String path) throws IOException {
    return exchange(port, "127.0.0.1", "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  }

  /** The status line and headers of a response (the body, an event stream's say, left unread). */
  static Response readHead(InputStream in) throws IOException {
    String status = line(in);
    if (status == null) {
      throw new EOFException("the connection closed before a response");
    }
    String[] parts = status.split(" ", 3);
    Map<String, String> headers = new LinkedHashMap<>();
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
    }
    return new Response(Integer.parseInt(parts[1]), headers, new byte[0]);
  }

  /** A whole response: its body by Content-Length, by chunks, or up to the end of the connection. */
  static Response read(InputStream in) throws IOException {
    return readBody(in, readHead(in));
  }

  private static Response readBody(InputStream in, Response head) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    String length = head.header("Content-Length");
    if (length != null) {
      body.write(in.readNBytes(Integer.parseInt(length)));
    } else if ("chunked".equalsIgnoreCase(head.header("Transfer-Encoding"))) {
      for (int n = Integer.parseInt(line(in).split(";")[0].trim(), 16); n > 0;
           n = Integer.parseInt(line(in).split(";")[0].trim(), 16)) {
        body.write(in.readNBytes(n));
        line(in);
      }
    } else {
      body.write(in.readAllBytes());
    }
    return new Response(head.status(), head.headers(), body.toByteArray());
  }

  /** One CRLF-terminated line, or null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1) {
      if (b == '\n') {
        byte[] bytes = out.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
      }
      out.write(b);
    }
    return out.size() == 0 ? null : out.toString(StandardCharsets.ISO_8859_1);
  }
}
