#!/usr/bin/env bash
# Makes sure what the tests talk to is running: RabbitMQ with its management API, PostgreSQL.
# Starts what is installed but stopped; says clearly what is missing.
set -u

rabbit_up() { timeout 5 bash -c '</dev/tcp/127.0.0.1/5672' 2>/dev/null; }
mgmt_up() { curl -sf -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; }
pg_up() { timeout 5 bash -c '</dev/tcp/127.0.0.1/5432' 2>/dev/null; }

if ! rabbit_up; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ…"; rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 60); do rabbit_up && break; sleep 1; done
  fi
fi
rabbit_up || { echo "RabbitMQ does not answer on 127.0.0.1:5672: start it with 'rabbitmq-server -detached' (or 'docker compose up -d rabbitmq')." >&2; exit 2; }
if ! mgmt_up; then
  rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
  for _ in $(seq 60); do mgmt_up && break; sleep 1; done
fi
mgmt_up || { echo "RabbitMQ's management API (15672) does not answer: 'rabbitmq-plugins enable rabbitmq_management'." >&2; exit 2; }
# a raised alarm (disk or memory) blocks every publisher: the tests would hang, not fail
alarms=$(curl -s -u guest:guest -o /dev/null -w '%{http_code}' http://127.0.0.1:15672/api/health/checks/alarms)
if [ "$alarms" != "200" ]; then
  echo "RabbitMQ has an alarm raised (it blocks every publisher): $(curl -s -u guest:guest http://127.0.0.1:15672/api/health/checks/alarms)" >&2
  df -h / /var/lib/rabbitmq 2>/dev/null >&2
  exit 2
fi
# RabbitMQ 3.10 stops at-least-once dead-lettering on the whole node (quorum queues then fail to
# start: "noproc") once two of its workers die within 5 s, and never restarts it by itself: a
# broker left so by an earlier run gets its supervisor started again (docs/operations.md,
# "Quorum dead-lettering stopped")
if command -v rabbitmqctl >/dev/null; then
  dlx=$(timeout 20 rabbitmqctl eval 'whereis(rabbit_fifo_dlx_sup).' 2>/dev/null)
  if [ "$dlx" = "undefined" ]; then
    echo "RabbitMQ's at-least-once dead-lettering was stopped: starting it again…"
    timeout 20 rabbitmqctl eval 'supervisor:restart_child(rabbit_sup, rabbit_fifo_dlx_sup).' >/dev/null 2>&1 || true
  fi
fi

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
    for _ in $(seq 30); do pg_up && break; sleep 1; done
  fi
fi
pg_up || { echo "PostgreSQL does not answer on 127.0.0.1:5432 (needed by the PostgreSQL test runs)." >&2; exit 2; }
exit 0
