package io.inferencejobs.jobs;

/**
 * Who asks the application layer for something: the key's name and tenant (null without authentication), whose jobs
 * and uploads it may see, and whether it may name any object of the allowed buckets (admin keys, or no
 * authentication) rather than only its uploads and the shared inputs.
 */
public record Requester(String keyName, String tenant, TenantFilter visible, boolean anyObject) {
  /** A node without authentication: one user who sees and may read everything. */
  public static final Requester OPEN = new Requester(null, null, TenantFilter.ALL, true);
}
