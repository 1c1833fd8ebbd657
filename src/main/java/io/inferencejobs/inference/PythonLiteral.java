package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the Python literals Ultralytics writes into ONNX metadata ({@code str(dict)}): dicts, lists, tuples,
 * quoted strings, ints, floats, True/False/None. Dicts become {@link LinkedHashMap}, lists and tuples
 * {@link ArrayList}, ints {@link Long}, floats {@link Double}.
 */
final class PythonLiteral {

  private final String text;
  private int pos;

  private PythonLiteral(String text) {
    this.text = text;
  }

  static Object parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("no text to parse");
    }
    PythonLiteral parser = new PythonLiteral(text);
    Object value = parser.value();
    parser.skipSpace();
    if (parser.pos != text.length()) {
      throw parser.error("unexpected text after the value");
    }
    return value;
  }

  /** Class names from a {@code names} entry: a dict {index: name} or a list of names; gaps become "class_N". */
  static List<String> names(String text) {
    Object parsed = parse(text);
    List<String> names = new ArrayList<>();
    if (parsed instanceof Map<?, ?> map) {
      int max = -1;
      for (Object key : map.keySet()) {
        max = Math.max(max, toInt(key));
      }
      for (int i = 0; i <= max; i++) {
        names.add("class_" + i);
      }
      for (Map.Entry<?, ?> e : map.entrySet()) {
        names.set(toInt(e.getKey()), String.valueOf(e.getValue()));
      }
    } else if (parsed instanceof List<?> list) {
      for (Object o : list) {
        names.add(String.valueOf(o));
      }
    } else {
      throw new IllegalArgumentException("names must be a dict or a list, got: " + text);
    }
    return names;
  }

  /** {@code imgsz} as [height, width]; a single number means a square. */
  static int[] imageSize(String text) {
    Object parsed = parse(text);
    if (parsed instanceof List<?> list && list.size() == 2) {
      return new int[] {toInt(list.get(0)), toInt(list.get(1))};
    }
    if (parsed instanceof List<?> list && list.size() == 1) {
      int s = toInt(list.get(0));
      return new int[] {s, s};
    }
    if (parsed instanceof Number) {
      int s = toInt(parsed);
      return new int[] {s, s};
    }
    throw new IllegalArgumentException("imgsz must be a number or [h, w], got: " + text);
  }

  static Boolean bool(String text) {
    Object parsed = parse(text);
    if (parsed instanceof Boolean b) {
      return b;
    }
    if (parsed instanceof Number n) {
      return n.longValue() != 0;
    }
    if (parsed instanceof String s) {
      return Boolean.parseBoolean(s);
    }
    return null;
  }

  private static int toInt(Object o) {
    if (o instanceof Number n) {
      return Math.toIntExact(n.longValue());
    }
    if (o instanceof String s) {
      return Integer.parseInt(s.trim());
    }
    throw new IllegalArgumentException("expected an integer, got " + o);
  }

  private Object value() {
    skipSpace();
    if (pos >= text.length()) {
      throw error("unexpected end of text");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return dict();
      case '[':
        return sequence('[', ']');
      case '(':
        return sequence('(', ')');
      case '\'':
      case '"':
        return string();
      default:
        break;
    }
    if (c == '-' || c == '+' || c == '.' || Character.isDigit(c)) {
      return number();
    }
    if (Character.isLetter(c) || c == '_') {
      int start = pos;
      while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
        pos++;
      }
      String word = text.substring(start, pos);
      return switch (word) {
        case "True" -> Boolean.TRUE;
        case "False" -> Boolean.FALSE;
        case "None" -> null;
        case "inf" -> Double.POSITIVE_INFINITY;
        case "nan" -> Double.NaN;
        default -> throw error("unknown name '" + word + "'");
      };
    }
    throw error("unexpected character '" + c + "'");
  }

  private Map<Object, Object> dict() {
    Map<Object, Object> map = new LinkedHashMap<>();
    pos++;
    skipSpace();
    if (peek() == '}') {
      pos++;
      return map;
    }
    while (true) {
      Object key = value();
      skipSpace();
      expect(':');
      Object value = value();
      map.put(key, value);
      skipSpace();
      char c = next();
      if (c == '}') {
        return map;
      }
      if (c != ',') {
        throw error("expected ',' or '}'");
      }
      skipSpace();
      if (peek() == '}') {
        pos++;
        return map;
      }
    }
  }

  private List<Object> sequence(char open, char close) {
    List<Object> list = new ArrayList<>();
    pos++;
    skipSpace();
    if (peek() == close) {
      pos++;
      return list;
    }
    while (true) {
      list.add(value());
      skipSpace();
      char c = next();
      if (c == close) {
        return list;
      }
      if (c != ',') {
        throw error("expected ',' or '" + close + "'");
      }
      skipSpace();
      if (peek() == close) {
        pos++;
        return list;
      }
    }
  }

  private String string() {
    char quote = next();
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char c = text.charAt(pos++);
      if (c == quote) {
        return sb.toString();
      }
      if (c == '\\' && pos < text.length()) {
        char e = text.charAt(pos++);
        switch (e) {
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case '0' -> sb.append('\0');
          case 'x' -> {
            sb.append((char) Integer.parseInt(text.substring(pos, pos + 2), 16));
            pos += 2;
          }
          case 'u' -> {
            sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
            pos += 4;
          }
          default -> sb.append(e);
        }
      } else {
        sb.append(c);
      }
    }
  }

  private Number number() {
    int start = pos;
    if (peek() == '-' || peek() == '+') {
      pos++;
    }
    boolean floating = false;
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (Character.isDigit(c) || c == '_') {
        pos++;
      } else if (c == '.' || c == 'e' || c == 'E'
          || ((c == '-' || c == '+') && (text.charAt(pos - 1) == 'e' || text.charAt(pos - 1) == 'E'))) {
        floating = true;
        pos++;
      } else {
        break;
      }
    }
    String literal = text.substring(start, pos).replace("_", "");
    try {
      return floating ? (Number) Double.parseDouble(literal) : (Number) Long.parseLong(literal);
    } catch (NumberFormatException e) {
      throw error("bad number '" + literal + "'");
    }
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private char next() {
    if (pos >= text.length()) {
      throw error("unexpected end of text");
    }
    return text.charAt(pos++);
  }

  private void expect(char c) {
    if (next() != c) {
      throw error("expected '" + c + "'");
    }
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("not a Python literal (" + what + " at position " + pos + "): "
        + (text.length() > 80 ? text.substring(0, 80) + "..." : text));
  }
}
