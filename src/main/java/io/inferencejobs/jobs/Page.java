package io.inferencejobs.jobs;

import java.util.List;

/** One page of a listing; {@code nextCursor} is null on the last page. */
public record Page<T>(List<T> items, String nextCursor) {

  /**
   * A page from rows fetched with {@code LIMIT limit + 1}: the extra row only says there is more, and the cursor is
   * the key of the last row kept.
   */
  public static <T> Page<T> of(List<T> rows, int limit, java.util.function.Function<T, Object> key) {
    if (rows.size() <= limit) {
      return new Page<>(rows, null);
    }
    List<T> kept = rows.subList(0, limit);
    return new Page<>(kept, String.valueOf(key.apply(kept.get(limit - 1))));
  }
}
