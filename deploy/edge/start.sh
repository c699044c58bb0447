#!/usr/bin/env bash
# The self-hosted edge on one machine (docs/edge.md): nginx with its proxy cache,
# TLS and HTTP/2, ModSecurity v3 with the OWASP Core Rule Set (blocking, paranoia 1)
# and a per-client rate limit, in front of 2 Image Flex nodes serving a local Swift
# S3 bucket loaded with the originals in IMAGES (default: samples/ of this repo).
# Everything (state, logs, pid files, config, certificate) lives in DIR.
#
#   usage: start.sh DIR [IMAGES]
#
# This script makes the edge's own files in DIR/edge (a self-signed certificate, the
# ModSecurity configuration, the rate limit, and the canonical query built from
# `imageflex params`), then starts the rest with deploy/scaleout/start.sh --edge.
#
# Environment: IMAGEFLEX_BINARY (default build/imageflex of this repo);
# IF_EDGE_NODES (default 2); IF_EDGE_PORT (default: a free port);
# IF_EDGE_RATE (requests per second per client address, default 50) and
# IF_EDGE_BURST (requests above the rate a client may have queued, default 100; the
# first half pass at once, the rest are delayed to the rate; past it: 429);
# and everything deploy/scaleout/start.sh reads (IF_* settings go to every node).
# For measuring the edge only (bench/edge.sh; never in production):
# IF_EDGE_MODSECURITY=off runs nginx without ModSecurity (default on), and
# IF_EDGE_HTTP_PORT=P adds a plain-HTTP/1.1 listener on 127.0.0.1:P to the same server
# (same cache, rules and rate limit; default none), printed as IF_EDGE_HTTP_URL.
#
# Prints the scale-out environment (also in DIR/env) and, as its last line,
#   EDGE_URL=https://127.0.0.1:PORT
# Stop with: stop.sh DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BINARY=${IMAGEFLEX_BINARY:-$REPO/build/imageflex}
MODSECURITY_MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
CRS_RULES=/usr/share/modsecurity-crs/rules
RATE=${IF_EDGE_RATE:-50}
BURST=${IF_EDGE_BURST:-100}
NODES=${IF_EDGE_NODES:-2}
MODSECURITY=${IF_EDGE_MODSECURITY:-on}
HTTP_PORT=${IF_EDGE_HTTP_PORT:-}

log() { echo "edge start: $*" >&2; }
[ $# -ge 1 ] && [ $# -le 2 ] && [ -n "$1" ] || { echo "usage: $0 DIR [IMAGES]" >&2; exit 2; }
IMAGES=${2:-$REPO/samples}
[ -d "$IMAGES" ] || { log "no folder $IMAGES"; exit 2; }
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || { log "IF_EDGE_RATE must be a positive integer, not '$RATE'"; exit 2; }
[[ "$BURST" =~ ^[1-9][0-9]*$ ]] || { log "IF_EDGE_BURST must be a positive integer, not '$BURST'"; exit 2; }
[[ "$MODSECURITY" =~ ^(on|off)$ ]] || { log "IF_EDGE_MODSECURITY must be on or off, not '$MODSECURITY'"; exit 2; }
[[ -z "$HTTP_PORT" || ( "$HTTP_PORT" =~ ^[1-9][0-9]*$ && "$HTTP_PORT" -le 65535 ) ]] \
  || { log "IF_EDGE_HTTP_PORT must be a port number, not '$HTTP_PORT'"; exit 2; }

# ---- prerequisites (the packages of scripts/install_deps.sh test) ----------------
[ -x "$BINARY" ] || { log "no imageflex binary at $BINARY (build it, or set IMAGEFLEX_BINARY)"; exit 1; }
[ -r "$MODSECURITY_MODULE" ] || { log "no ModSecurity module for nginx; install it with:" \
  "apt-get install -y --no-install-recommends libnginx-mod-http-modsecurity"; exit 1; }
[ -d "$CRS_RULES" ] || { log "no OWASP Core Rule Set; install it with:" \
  "apt-get install -y --no-install-recommends modsecurity-crs"; exit 1; }
command -v openssl >/dev/null || { log "openssl not found"; exit 1; }

mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
case $DIR in *[[:space:]\|\&\;\\\"]*)
  log "DIR must not contain spaces or any of | & ; \\ \" (it goes into nginx.conf): $DIR"; exit 2 ;;
esac
EDGE=$DIR/edge
mkdir -p "$EDGE/tls" "$EDGE/modsecurity/tmp" "$DIR/nginx"

# ---- a self-signed certificate for 127.0.0.1 and localhost ------------------------
if [ ! -s "$EDGE/tls/cert.pem" ] || [ ! -s "$EDGE/tls/key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$EDGE/tls/key.pem" -out "$EDGE/tls/cert.pem" 2>/dev/null \
    || { log "openssl could not make a certificate"; exit 1; }
  chmod 600 "$EDGE/tls/key.pem"
fi

# ---- the canonical query, from the parser's own list --------------------------------
# `imageflex params` prints every query parameter the parser reads. Each becomes
# "name=value" when given (also "name=" when given without a value, as ?meta or
# ?lossless: $arg_ cannot tell that from absent, so $args is matched for the name), in
# that order; everything else is dropped. The
# result is both the URI sent to a node and the cache key, so no parameter can be
# read by a node yet missing from the key.
params=$("$BINARY" params) || { log "$BINARY params failed"; exit 1; }
[ -n "$params" ] || { log "$BINARY params printed nothing"; exit 1; }
{
  echo "# Made by deploy/edge/start.sh from \`imageflex params\`; do not edit."
  parts=""
  for name in $params; do
    [[ "$name" =~ ^[a-z][a-z0-9_]*$ ]] || { log "unexpected parameter name '$name'"; exit 1; }
    echo "map \$args \$if_given_$name { \"~(^|&)$name(=|&|\$)\" 1; default \"\"; }"
    echo "map \$if_given_$name \$if_query_$name { \"\" \"\"; default \"&$name=\$arg_$name\"; }"
    parts+="\$if_query_$name"
  done
  echo "map \"$parts\" \$if_canonical_query { \"\" \"\"; \"~^&(?<if_query>.*)\$\" \"?\$if_query\"; }"
  echo "map \$request_uri \$if_raw_path { \"~^(?<if_path>[^?]*)\" \$if_path; }"
  echo "map \$request_uri \$if_upstream_uri { default \"\$if_raw_path\$if_canonical_query\"; }"
} >"$EDGE/canonical_query.conf"

# ---- the rate limit ----------------------------------------------------------------
echo "limit_req_zone \$binary_remote_addr zone=imageflex_per_client:10m rate=${RATE}r/s;" \
  >"$EDGE/limit_req_zone.conf"
echo "limit_req zone=imageflex_per_client burst=$BURST delay=$((BURST / 2));" >"$EDGE/limit_req.conf"

# ---- the bench-only switches (server block) -----------------------------------------
if [ "$MODSECURITY" = on ]; then
  printf 'modsecurity on;\nmodsecurity_rules_file %s;\n' "$EDGE/modsecurity/main.conf" >"$EDGE/modsecurity.conf"
else
  log "IF_EDGE_MODSECURITY=off: no WAF (for measuring the edge only)"
  echo "modsecurity off;" >"$EDGE/modsecurity.conf"
fi
if [ -n "$HTTP_PORT" ]; then
  log "IF_EDGE_HTTP_PORT=$HTTP_PORT: a plain-HTTP listener too (for measuring the edge only)"
  echo "listen 127.0.0.1:$HTTP_PORT;" >"$EDGE/listen_http.conf"
else
  echo "# no plain-HTTP listener (IF_EDGE_HTTP_PORT)" >"$EDGE/listen_http.conf"
fi

# ---- ModSecurity with the Core Rule Set ----------------------------------------------
# Every CRS file but three that act only when configured, which crs-setup.conf does not
# do: the application exclusions (903.9xxx, tx.crs_exclusions_*), IP reputation (910,
# tx.high_risk_country_codes or an RBL) and DoS protection (912, tx.dos_burst_time_slice).
# Loaded, they change no answer yet cost 5-10 % of ModSecurity's time per request
# (docs/edge.md, "Where the edge's time goes").
crs_includes() {
  local f
  for f in "$CRS_RULES"/*.conf; do
    case ${f##*/} in REQUEST-903.9*|REQUEST-910-*|REQUEST-912-*) continue ;; esac
    echo "Include $f"
  done
}
cat >"$EDGE/modsecurity/main.conf" <<CONF
# Made by deploy/edge/start.sh; the rules are in $HERE/modsecurity and $CRS_RULES.
SecRuleEngine On
# Body access must be on for libmodsecurity to run phase 2, where most CRS rules are
# (with it off, it skips them all). Only GET and HEAD are served, so a body is tiny
# or refused; responses are never inspected.
SecRequestBodyAccess On
SecRequestBodyLimit 65536
SecRequestBodyNoFilesLimit 65536
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecArgumentSeparator &
SecCookieFormat 0
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
SecTmpDir $EDGE/modsecurity/tmp
SecDataDir $EDGE/modsecurity/tmp
# Every blocked or logged request, as one JSON record, in nginx/modsec_audit.log; each
# match is also a line in nginx/error.log ("ModSecurity: Access denied ...").
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogParts ABHZ
SecAuditLogType Serial
SecAuditLogFormat JSON
SecAuditLog $DIR/nginx/modsec_audit.log
Include $HERE/modsecurity/crs-setup.conf
Include $HERE/modsecurity/before-crs.conf
$(crs_includes)
Include $HERE/modsecurity/after-crs.conf
CONF

# ---- the rest: Swift, the nodes, nginx -----------------------------------------------
port_args=()
[ -z "${IF_EDGE_PORT:-}" ] || port_args=(--port "$IF_EDGE_PORT")
"$REPO/deploy/scaleout/start.sh" "$DIR" --nodes "$NODES" --images "$IMAGES" --edge "${port_args[@]}"
url=$(sed -n 's/^IF_EDGE_URL=//p' "$DIR/env")
[ -z "$HTTP_PORT" ] || echo "IF_EDGE_HTTP_URL=http://127.0.0.1:$HTTP_PORT" | tee -a "$DIR/env"
echo "EDGE_URL=$url" >>"$DIR/env"
echo "EDGE_URL=$url"
