package io.inferencejobs.it;

import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, one request per connection, with the request target sent byte for byte as given (no
 * client normalises {@code //}, {@code /./}, {@code ..} or percent-escapes on the way). An event stream's body is not
 * read: its status and headers are enough.
 */
final class RawHttp {
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
      return status + " " + (t.length() > 300 ? t.substring(0, 300) + "..." : t);
    }
  }

  private RawHttp() {
  }

  static Response send(int port, String method, String target, Map<String, String> headers, byte[] body) {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(20_000);
      StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
          .append("Host: 127.0.0.1:").append(port).append("\r\nConnection: close\r\n");
      headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
      if (body != null) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      OutputStream out = socket.getOutputStream();
      out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      if (body != null) {
        out.write(body);
      }
      out.flush();
      return read(socket.getInputStream());
    } catch (IOException e) {
      throw new AssertionError(method + " " + target + ": " + e, e);
    }
  }

  private static Response read(InputStream in) throws IOException {
    ByteArrayOutputStream headBytes = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed before the end of the headers: " + headBytes);
      }
      headBytes.write(b);
      matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))
          ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String[] lines = headBytes.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
    }
    String type = headers.getOrDefault("content-type", "");
    if (type.startsWith("text/event-stream")) {
      return new Response(status, headers, new byte[0]);
    }
    String length = headers.get("content-length");
    byte[] body = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
    return new Response(status, headers, body);
  }
}
