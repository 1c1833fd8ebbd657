-- A worker that runs on another device than it was asked for (CUDA unavailable, ENGINE_CUDA_FALLBACK=cpu) says so.
ALTER TABLE workers ADD COLUMN degraded BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE workers ADD COLUMN note TEXT;
