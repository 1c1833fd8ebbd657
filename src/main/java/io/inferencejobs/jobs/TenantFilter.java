package io.inferencejobs.jobs;

import java.util.Objects;

/**
 * Whose jobs and uploads a caller may see: every tenant's (admin keys, or a node without authentication) or one
 * tenant's. Everything else is, to that caller, as if it did not exist.
 */
public record TenantFilter(boolean all, String tenant) {
  public static final TenantFilter ALL = new TenantFilter(true, null);

  public TenantFilter {
    if (!all && tenant == null) {
      throw new IllegalArgumentException("a filter for one tenant needs its name");
    }
  }

  public static TenantFilter only(String tenant) {
    return new TenantFilter(false, tenant);
  }

  /** Whether something owned by {@code owner} (null: made without authentication) is visible. */
  public boolean sees(String owner) {
    return all || Objects.equals(tenant, owner);
  }
}
