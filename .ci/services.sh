#!/usr/bin/env bash
# Check each local service the test suite needs; start it if it is down.
# Only 127.0.0.1 is ever touched. Safe to run again: a running service is left alone.
set -u

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() {  # name port seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do up "$2" && { echo "ok: $1 on 127.0.0.1:$2"; return 0; }; sleep 0.25; done
  echo "FAILED: $1 did not come up on 127.0.0.1:$2" >&2
  return 1
}

ensure() {  # name port seconds start-command...
  local name=$1 port=$2 secs=$3; shift 3
  if up "$port"; then echo "ok: $name on 127.0.0.1:$port"; return 0; fi
  if ! command -v "${1##*/}" >/dev/null 2>&1 && [ ! -x "$1" ]; then
    echo "FAILED: $name is down and '$1' is not installed" >&2; return 1
  fi
  echo "starting $name ..."
  "$@" >/dev/null 2>&1 || true
  wait_up "$name" "$port" "$secs"
}

rc=0
ensure postgresql 5432 30 sh -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' || rc=1
ensure redis 6379 15 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || rc=1
ensure rabbitmq 5672 90 rabbitmq-server -detached || rc=1
ensure nats 4222 15 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || rc=1
exit $rc
