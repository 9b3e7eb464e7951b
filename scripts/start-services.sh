#!/usr/bin/env bash
# Start what the test-suite needs if it is not running: PostgreSQL, Redis (preinstalled on the
# dev/CI machines), and install Debian's chromium (browser test) and orthanc + orthanc-dicomweb
# (DICOMweb tests; each test session starts its own Orthanc on a free port) if missing.
set -uo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ]; then
  echo "installing chromium (Debian package) for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium install failed; the browser test will be skipped"
fi
if [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] && [ "$(id -u)" = "0" ]; then
  echo "installing Orthanc + its DICOMweb plugin (Debian packages) for the DICOMweb tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb >/dev/null) \
    || echo "WARNING: Orthanc install failed; the DICOMweb tests will fail"
fi
pg_isready -h 127.0.0.1 -p 5432 || echo "WARNING: PostgreSQL is not reachable; PostgreSQL tests will fail"
redis-cli -h 127.0.0.1 ping || echo "WARNING: Redis is not reachable; Redis tests will fail"
