#!/usr/bin/env bash
# Start a Docker engine in the background if none answers, and wait for its socket.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
nohup dockerd >/tmp/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "dockerd did not start; last log lines:" >&2
tail -n 30 /tmp/dockerd.log >&2
exit 1
