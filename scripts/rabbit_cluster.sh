#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, beside its own broker (which stays untouched on
# 5672): scripts/rabbit_cluster.sh start | stop | kill N | restart N | status | uri
#
# Node N (1..3) is portalN@localhost on AMQP port 568N, management 1568N, distribution 2568N; its
# data and logs live under $RABBIT_CLUSTER_DIR/portalN, owned by the rabbitmq user, and it uses the
# machine's Erlang cookie (/var/lib/rabbitmq/.erlang.cookie), so rabbitmqctl works as that user.
# `kill N` is a crash (SIGKILL of the node's VM), `restart N` brings it back and it rejoins.
# `uri` prints the AMQP_URI of all three, as kombu takes it for fail-over (';'-separated).
# `start` (or `users`) also sets the portal's broker users and the core's, with their permissions
# (docs/operations.md, "Broker users and permissions").
set -euo pipefail

DIR=${RABBIT_CLUSTER_DIR:-/var/tmp/portal-rabbit-cluster}
NODES=(1 2 3)
RUN_AS=rabbitmq

amqp_port() { echo $((5680 + $1)); }
name() { echo "portal$1@localhost"; }

as_rabbit() {
  # the rabbitmq user's HOME holds the machine's Erlang cookie
  if [ "$(id -un)" = "$RUN_AS" ]; then env HOME=/var/lib/rabbitmq "$@"; else
    runuser -u "$RUN_AS" -- env HOME=/var/lib/rabbitmq "$@"
  fi
}

ctl() { local n=$1; shift; as_rabbit rabbitmqctl -n "$(name "$n")" "$@"; }

node_env() {
  local n=$1 base="$DIR/portal$1"
  echo RABBITMQ_NODENAME="$(name "$n")" \
    RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
    RABBITMQ_DIST_PORT=$((25680 + n)) \
    RABBITMQ_MNESIA_BASE="$base/mnesia" \
    RABBITMQ_LOG_BASE="$base/log" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" \
    RABBITMQ_FEATURE_FLAGS_FILE="$base/feature_flags" \
    RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf" \
    RABBITMQ_PID_FILE="$base/pid"
}

prepare() {
  local n=$1 base="$DIR/portal$1"
  mkdir -p "$base/mnesia" "$base/log"
  cat >"$base/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$n")
management.tcp.ip = 127.0.0.1
management.tcp.port = $((15680 + n))
# quorum queues need a majority: leave the cluster's membership to this script, not to autoheal
cluster_partition_handling = pause_minority
EOF
  echo "[rabbitmq_management]." >"$base/enabled_plugins"
  chown -R "$RUN_AS:$RUN_AS" "$DIR"
}

running() { ctl "$1" ping --timeout 5 >/dev/null 2>&1; }

launch_node() {
  local n=$1
  if running "$n"; then return 0; fi
  prepare "$n"
  # shellcheck disable=SC2046  # node_env's words are the variables
  as_rabbit $(node_env "$n") rabbitmq-server -detached
}

await_node() {
  local n=$1
  # -detached returns before the node registers: wait for it to answer, then to finish booting
  for _ in $(seq 1 60); do running "$n" && break; sleep 0.5; done
  ctl "$n" await_startup --timeout 120 >/dev/null 2>&1
}

start_node() {
  launch_node "$1"
  await_node "$1"
}

join() {
  local n=$1
  if ctl "$n" cluster_status --formatter json 2>/dev/null | grep -q "$(name 1)"; then return 0; fi
  ctl "$n" stop_app >/dev/null 2>&1
  ctl "$n" join_cluster "$(name 1)" >/dev/null 2>&1
  ctl "$n" start_app >/dev/null 2>&1
}

start() {
  command -v rabbitmq-server >/dev/null || { echo "RabbitMQ is not installed (apt-get install rabbitmq-server)" >&2; exit 2; }
  # all at once: a clustered node waits at boot for the node that stopped last, whichever it is.
  # A node booting beside another may die comparing feature flags with it (RabbitMQ 3.10):
  # launched again, it boots.
  local attempt n failed
  for attempt in 1 2 3; do
    for n in "${NODES[@]}"; do launch_node "$n"; done
    failed=()
    for n in "${NODES[@]}"; do await_node "$n" || failed+=("$n"); done
    [ ${#failed[@]} -eq 0 ] && break
    echo "node(s) ${failed[*]} did not boot (attempt $attempt); launching again" >&2
  done
  [ ${#failed[@]} -eq 0 ] || { echo "node(s) ${failed[*]} did not boot: see $DIR/portalN/log" >&2; exit 1; }
  for n in 2 3; do join "$n"; done
  users
  status
}

users() {
  # the portal's broker users and the core's, with their permissions on the default vhost, as
  # `make run` sets them (scripts/broker_users.py; passwords those of var/); guest is untouched
  local root python user secret configure write read
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  python=${PYTHON:-$root/.venv/bin/python}
  [ -x "$python" ] || python=python3
  (cd "$root" && "$python" -m scripts.broker_users lines /) |
    while IFS=$'\t' read -r user secret configure write read; do
      ctl 1 add_user "$user" "$secret" >/dev/null 2>&1 || ctl 1 change_password "$user" "$secret" >/dev/null
      ctl 1 set_permissions -p / "$user" "$configure" "$write" "$read" >/dev/null
    done
}

stop_node() {
  local n=$1
  running "$n" && ctl "$n" stop >/dev/null 2>&1 || true
}

stop() {
  # side by side: `start` launches all three together, so the order of stopping does not matter
  for n in "${NODES[@]}"; do stop_node "$n" & done
  wait
  echo "cluster stopped (data kept in $DIR; rm -rf it for a fresh cluster)"
}

kill_node() {
  local n=$1 pid
  pid=$(cat "$DIR/portal$n/pid" 2>/dev/null || true)
  [ -n "$pid" ] || { echo "node $n is not running" >&2; exit 1; }
  kill -9 "$pid"
  echo "killed $(name "$n") (pid $pid)"
}

restart_node() {
  start_node "$1"
  status
}

status() {
  ctl 1 cluster_status --formatter json 2>/dev/null | python3 -c '
import json, sys
status = json.load(sys.stdin)
print("running:", ", ".join(sorted(status.get("running_nodes", []))))
print("members:", ", ".join(sorted(status.get("disk_nodes", []))))
' || { echo "node 1 does not answer" >&2; exit 1; }
}

uri() {
  local parts=()
  for n in "${NODES[@]}"; do parts+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/"); done
  (IFS=';'; echo "${parts[*]}")
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill) kill_node "${2:?node 1..3}" ;;
  restart) restart_node "${2:?node 1..3}" ;;
  status) status ;;
  uri) uri ;;
  users) users ;;
  *) echo "usage: $0 start|stop|kill N|restart N|status|uri|users" >&2; exit 2 ;;
esac
