# Shared by deploy/aws/setup, update and synth: arguments, prerequisites, the CDK CLI.
# Sourced, not run. Sets IF_AWS_ENV, IF_AWS_DRY_RUN, AWS_DIR, REPO_ROOT, BUILD_AWS.

AWS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$AWS_DIR/../.." && pwd)
BUILD_AWS="$REPO_ROOT/build/aws"
ENVIRONMENTS="dev staging prod"

# The CDK CLI must not reach the network for anything but the deploy itself.
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# [ENV] [--dry-run]: ENV from the argument, else IF_ENV, else dev; refused unless known.
parse_arguments() {
  IF_AWS_DRY_RUN=0
  local env_arg=""
  for arg in "$@"; do
    case "$arg" in
      --dry-run) IF_AWS_DRY_RUN=1 ;;
      -h | --help) echo "usage: $(basename "$0") [dev|staging|prod] [--dry-run]   (ENV defaults to \$IF_ENV, else dev)"; exit 0 ;;
      -*) fail "unknown option $arg" ;;
      *) [ -z "$env_arg" ] || fail "one environment only, got '$env_arg' and '$arg'"; env_arg=$arg ;;
    esac
  done
  IF_AWS_ENV=${env_arg:-${IF_ENV:-dev}}
  case " $ENVIRONMENTS " in
    *" $IF_AWS_ENV "*) ;;
    *) fail "unknown environment '$IF_AWS_ENV': use one of ${ENVIRONMENTS// /, }" ;;
  esac
}

# Node 20+, AWS credentials (environment or ~/.aws), region us-east-1: everything missing on one line.
check_prerequisites() {
  local missing=()
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ]; then
    missing+=("Node.js 20+ (found: $(node --version 2>/dev/null || echo none))")
  fi
  local aws_home="${HOME:-/nonexistent}/.aws"
  if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
    if ! grep -qs '^\[' "${AWS_SHARED_CREDENTIALS_FILE:-$aws_home/credentials}" \
      && ! grep -qsE '^(sso_|credential_process|role_arn)' "${AWS_CONFIG_FILE:-$aws_home/config}"; then
      missing+=("AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run 'aws configure' or 'aws sso login')")
    fi
  fi
  for variable in AWS_REGION AWS_DEFAULT_REGION; do
    local region=${!variable:-}
    if [ -n "$region" ] && [ "$region" != us-east-1 ]; then
      missing+=("region us-east-1 ($variable is $region; CloudFront's WAF and certificates live in us-east-1)")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local joined
    joined=$(printf '; %s' "${missing[@]}")
    fail "missing: ${joined:2}"
  fi
  # Whatever the profile says, the CLI works in us-east-1.
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
}

# The pinned packages, installed when absent or older than the lock file.
ensure_packages() {
  if [ ! -f "$AWS_DIR/node_modules/.package-lock.json" ] \
    || [ "$AWS_DIR/package-lock.json" -nt "$AWS_DIR/node_modules/.package-lock.json" ]; then
    (cd "$AWS_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2 || fail "npm ci failed in $AWS_DIR"
  fi
}

# An existing path made absolute (the synth runs in $AWS_DIR).
absolute_path() {
  [ -e "$1" ] || fail "$1 does not exist"
  echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

cdk() {
  (cd "$AWS_DIR" && npx --no-install cdk "$@")
}

# Synthesizes ENV offline, without the CDK CLI (so no account, no credentials, no network):
# the cloud assembly to build/aws/cdk.out.ENV, the template to build/aws/image-flex-ENV.template.json.
# cdk-nag runs inside the app; an unacknowledged finding fails the synth.
synth_offline() {
  local env=$1 bundle=$2
  local out="$BUILD_AWS/cdk.out.$env"
  rm -rf "$out"
  mkdir -p "$BUILD_AWS"
  local context
  context=$(node -e 'console.log(JSON.stringify({env: process.argv[1], bundle: process.argv[2]}))' "$env" "$bundle")
  (cd "$AWS_DIR" && CDK_OUTDIR="$out" CDK_CONTEXT_JSON="$context" TS_NODE_TRANSPILE_ONLY=1 \
    node -r ts-node/register bin/app.ts) || fail "synth of image-flex-$env failed"
  cp "$out/image-flex-$env.template.json" "$BUILD_AWS/image-flex-$env.template.json"
  echo "synthesized image-flex-$env: $BUILD_AWS/image-flex-$env.template.json" >&2
}
