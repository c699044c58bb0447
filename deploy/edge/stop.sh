#!/usr/bin/env bash
# Stop what deploy/edge/start.sh started for DIR (nginx, the nodes, Swift): the edge
# is the scale-out stack with more nginx configuration, so its stop.sh does it.
# Logs, the certificate and the bucket's data stay in DIR.
#
#   usage: stop.sh DIR
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../scaleout/stop.sh" "$@"
