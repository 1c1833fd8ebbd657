package io.inferencejobs.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Minimal {@code --name value} / {@code --flag} parsing; repeated or space-separated values collect into a list. */
public final class Args {

  private final Map<String, List<String>> values = new HashMap<>();

  private Args() {
  }

  public static Args parse(String[] args, Set<String> flags, Set<String> options) {
    Args parsed = new Args();
    String current = null;
    for (String a : args) {
      if (a.startsWith("--")) {
        String name = a.substring(2);
        String inline = null;
        int eq = name.indexOf('=');
        if (eq >= 0) {
          inline = name.substring(eq + 1);
          name = name.substring(0, eq);
        }
        if (flags.contains(name)) {
          parsed.values.computeIfAbsent(name, k -> new ArrayList<>()).add("true");
          current = null;
        } else if (options.contains(name)) {
          parsed.values.computeIfAbsent(name, k -> new ArrayList<>());
          current = name;
          if (inline != null) {
            parsed.values.get(name).add(inline);
          }
        } else {
          throw new IllegalArgumentException("unknown option --" + name);
        }
      } else if (current != null) {
        parsed.values.get(current).add(a);
      } else {
        throw new IllegalArgumentException("unexpected argument '" + a + "'");
      }
    }
    return parsed;
  }

  public boolean flag(String name) {
    return values.containsKey(name);
  }

  public List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }

  public String get(String name, String fallback) {
    List<String> v = values.get(name);
    if (v == null) {
      return fallback;
    }
    if (v.size() != 1) {
      throw new IllegalArgumentException("--" + name + " takes one value");
    }
    return v.get(0);
  }

  public float getFloat(String name, float fallback) {
    String v = get(name, null);
    try {
      return v == null ? fallback : Float.parseFloat(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a number, got '" + v + "'");
    }
  }

  public int getInt(String name, int fallback) {
    String v = get(name, null);
    try {
      return v == null ? fallback : Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be an integer, got '" + v + "'");
    }
  }
}
