#!/usr/bin/env bash
# Starts a local cluster on loopback: one PostgreSQL + S3 process, one API node and two worker nodes, clustered over
# Hazelcast (TCP-IP on 127.0.0.1). Ctrl-C stops them all. Logs and data go to ${CLUSTER_DIR:-data/local-cluster}.
#   bash cluster/local-cluster.sh            # builds the jar if missing, then starts everything
# Then: curl http://127.0.0.1:8080/health/ready lists the two workers; each node's management port (health, metrics)
# is 9091 (API), 9092 and 9093 (workers).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${CLUSTER_DIR:-data/local-cluster}
mkdir -p "$DIR"
[ -f target/inference-jobs.jar ] || mvn -B -q package -DskipTests

JAVA_OPTS=${JAVA_OPTS:-"-Xmx512m"}
PG_PORT=${PG_PORT:-15432}
S3_PORT=${S3_PORT:-19000}
MEMBERS="127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

start() { # name, then env assignments
  local name=$1; shift
  env "$@" java $JAVA_OPTS -jar target/inference-jobs.jar "${CMD:-serve}" > "$DIR/$name.log" 2>&1 &
  pids+=($!)
}
wait_for() { # log file, line prefix
  for _ in $(seq 1 120); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 1; done
  echo "timed out waiting for $1"; exit 1
}

CMD=deps start deps DATA_DIR="$DIR/deps" PG_EMBEDDED_PORT=$PG_PORT S3_EMBEDDED_PORT=$S3_PORT
wait_for "$DIR/deps.log" "deps ready"
# a loopback-only demo: authentication is off (the API listens on 127.0.0.1 only); see docs/security-and-operations.md
# (the deps process's S3 keys are the embedded server's defaults, which it prints)
common=(CLUSTERED=true AUTH_ENABLED=false CLUSTER_MEMBERS=$MEMBERS PG_HOST=127.0.0.1 PG_PORT=$PG_PORT PG_DATABASE=postgres
        PG_USER=postgres PG_PASSWORD=postgres S3_ENDPOINT=http://127.0.0.1:$S3_PORT S3_ACCESS_KEY=inference-jobs
        S3_SECRET_KEY=inference-jobs-secret)
# three nodes on one machine: each its own Hazelcast, event-bus and management port
start api "${common[@]}" ROLES=api CLUSTER_PORT=5701 CLUSTER_BUS_PORT=5801 MANAGEMENT_PORT=9091 \
  HTTP_PORT=${HTTP_PORT:-8080} DATA_DIR="$DIR/api"
start worker-1 "${common[@]}" ROLES=worker CLUSTER_PORT=5702 CLUSTER_BUS_PORT=5802 MANAGEMENT_PORT=9092 \
  WORKER_DEVICES=cpu DATA_DIR="$DIR/worker-1"
start worker-2 "${common[@]}" ROLES=worker CLUSTER_PORT=5703 CLUSTER_BUS_PORT=5803 MANAGEMENT_PORT=9093 \
  WORKER_DEVICES=cpu DATA_DIR="$DIR/worker-2"
wait_for "$DIR/api.log" "inference-jobs ready at"
wait_for "$DIR/worker-1.log" "inference-jobs ready"
wait_for "$DIR/worker-2.log" "inference-jobs ready"
echo "local cluster up: API http://127.0.0.1:${HTTP_PORT:-8080}/ ; logs in $DIR ; Ctrl-C to stop"
wait
