-- Tenants. Every job, upload session and idempotency key belongs to the tenant of the key that made it; a NULL
-- tenant is what a node without authentication made. Keys used to be their own tenant, so owner is the tenant.
ALTER TABLE inference_jobs ADD COLUMN tenant TEXT;
UPDATE inference_jobs SET tenant = owner;
DROP INDEX inference_jobs_owner_active_idx;
CREATE INDEX inference_jobs_tenant_active_idx ON inference_jobs (tenant) WHERE status IN ('pending', 'running');
CREATE INDEX inference_jobs_tenant_idx ON inference_jobs (tenant, id DESC);

-- Idempotency keys are per tenant: another tenant's key of the same name is another key.
ALTER TABLE inference_jobs DROP CONSTRAINT inference_jobs_idempotency_key_key;
CREATE UNIQUE INDEX inference_jobs_idempotency_idx ON inference_jobs (coalesce(tenant, ''), idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Upload sessions: the tenant, and a state. A session is 'pending' while its objects are being written to S3 and
-- 'committed' with its files; a pending session older than the sweep age is an upload that never finished, whose
-- objects the sweeper removes.
ALTER TABLE upload_sessions ADD COLUMN tenant TEXT;
ALTER TABLE upload_sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'committed'
  CHECK (state IN ('pending', 'committed'));
ALTER TABLE upload_sessions ADD COLUMN sweep_after TIMESTAMPTZ;
CREATE INDEX upload_sessions_pending_idx ON upload_sessions (sweep_after) WHERE state = 'pending';
