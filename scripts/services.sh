#!/usr/bin/env bash
# Start Postgres and Redis on 127.0.0.1 if they are not already answering. Idempotent.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 line <&3 && [[ $line == +PONG* ]]) 2>/dev/null; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and no local cluster was found; set DATABASE_URL" >&2
    exit 1
  fi
  for _ in $(seq 30); do pg_up && break; sleep 0.5; done
fi
if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/lambdaops.log
  else
    echo "Redis is not running on 127.0.0.1:6379 and redis-server is not installed; set REDIS_URL" >&2
    exit 1
  fi
  for _ in $(seq 30); do redis_up && break; sleep 0.2; done
fi
# The application database (tests create their own test_ database next to it).
DB_NAME=$(python3 -c "import os,urllib.parse as u; print(u.urlparse(os.environ.get('DATABASE_URL','postgres://root@127.0.0.1:5432/lambdaops')).path.strip('/'))")
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" 2>/dev/null | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$DB_NAME\"" 2>/dev/null || true
fi
echo "services: postgres and redis up"
