#!/bin/bash
# coturn-secrets: the TURN REST shared secrets coturn accepts, kept in the turn_secret table of its user database.
# coturn looks them up on every authentication, so a new set takes effect with the next request: no restart, no
# dropped allocation. `pulumi up` runs `coturn-secrets apply` over SSH as coturn-deploy, whose key can run nothing
# else, with the whole secret set on stdin (one per line, the active one first). Applying the same set again
# changes nothing. Only fingerprints are printed (first 16 hex digits of each secret's SHA-256), never a secret.
#
# Usage: coturn-secrets apply|show [--config /etc/turnserver.conf]
#   apply  replace the accepted set with the secrets on stdin, in one transaction; print the result as JSON
#   show   print the accepted set as JSON
set -euo pipefail
umask 077

# Errors go to the journal too (messages never hold a secret), so an operator finds them on the VM.
fail() { echo "coturn-secrets: ERROR: $*" >&2; logger --tag coturn-secrets --priority user.err -- "ERROR: $*" 2>/dev/null || true; exit 1; }
log() { echo "coturn-secrets: $*" >&2; }

action="${1:-}"
[ "$#" -gt 0 ] && shift
config=/etc/turnserver.conf
while [ "$#" -gt 0 ]; do
  case "$1" in
    --config) config="${2:-}"; shift 2 ;;
    *) fail "unknown argument '$1' (usage: coturn-secrets apply|show [--config FILE])" ;;
  esac
done
case "$action" in
  apply|show) ;;
  *) fail "unknown action '$action' (usage: coturn-secrets apply|show [--config FILE])" ;;
esac

# The secret syntax the stack config allows; it has no quote, so a validated secret is safe inside SQL quotes.
readonly secret_pattern='^[A-Za-z0-9+/=_.~-]{32,256}$'
readonly max_secrets=6

conf_value() { sed -n "s/^$1=//p" "$config" | tail -n 1; }

# On a fresh VM, pulumi up connects as soon as SSH answers, possibly before cloud-init has installed coturn (which
# creates the database): wait for it, for at most 10 minutes.
for attempt in $(seq 1 300); do
  if [ -r "$config" ]; then
    db="$(conf_value userdb)"
    if [ -n "$db" ] && [ -s "$db" ] && sqlite3 "$db" 'SELECT count(*) FROM turn_secret;' >/dev/null 2>&1; then
      break
    fi
  fi
  [ "$attempt" -eq 1 ] && log "waiting for coturn's configuration and user database (coturn is still being installed)"
  [ "$attempt" -eq 300 ] && fail "no readable $config naming a coturn user database (userdb=) with a turn_secret table after 10 minutes"
  sleep 2
done
realm="$(conf_value realm)"
[[ "$realm" =~ ^[A-Za-z0-9.-]+$ ]] || fail "$config has no usable realm= line (got '$realm')"

fingerprint() { printf '%s' "$1" | sha256sum | cut -c1-16; }
stored_secrets() { sqlite3 "$db" "SELECT value FROM turn_secret WHERE realm = '$realm' ORDER BY rowid;"; }
json_list() {
  local first=1 item
  printf '['
  for item in "$@"; do
    [ "$first" -eq 1 ] || printf ','
    printf '"%s"' "$item"
    first=0
  done
  printf ']'
}

if [ "$action" = show ]; then
  mapfile -t current < <(stored_secrets)
  fingerprints=()
  for secret in "${current[@]}"; do fingerprints+=("$(fingerprint "$secret")"); done
  printf '{"realm":"%s","accepted":%s}\n' "$realm" "$(json_list "${fingerprints[@]}")"
  exit 0
fi

wanted=()
while IFS= read -r line || [ -n "$line" ]; do
  line="${line%$'\r'}"
  [ -z "$line" ] && continue
  [[ "$line" =~ $secret_pattern ]] || fail "line $(( ${#wanted[@]} + 1 )) of stdin is not a secret (32-256 of A-Z a-z 0-9 + / = _ . ~ -); nothing was changed"
  for seen in "${wanted[@]}"; do
    [ "$seen" != "$line" ] || fail "stdin lists a secret twice; nothing was changed"
  done
  wanted+=("$line")
done
[ "${#wanted[@]}" -ge 1 ] || fail "stdin holds no secret: an empty set would refuse every client; nothing was changed"
[ "${#wanted[@]}" -le "$max_secrets" ] || fail "stdin holds ${#wanted[@]} secrets, at most $max_secrets are allowed; nothing was changed"

mapfile -t before < <(stored_secrets)
# One transaction: coturn sees the old set or the new one, never a mix or an empty table. The database serves this
# server only, so rows of any other realm (a realm that was renamed) go too.
{
  echo '.bail on'
  echo '.timeout 10000'
  echo 'BEGIN IMMEDIATE;'
  echo 'DELETE FROM turn_secret;'
  for secret in "${wanted[@]}"; do
    printf "INSERT INTO turn_secret (realm, value) VALUES ('%s', '%s');\n" "$realm" "$secret"
  done
  echo 'COMMIT;'
} | sqlite3 "$db" || fail "could not write $db; the previous secrets are still in place"

mapfile -t after < <(stored_secrets)
[ "${after[*]}" = "${wanted[*]}" ] || fail "$db does not hold the requested set after writing it"

contains() {
  local needle="$1" item
  shift
  for item in "$@"; do [ "$item" = "$needle" ] && return 0; done
  return 1
}
added=0
removed=0
for secret in "${wanted[@]}"; do contains "$secret" "${before[@]}" || added=$((added + 1)); done
for secret in "${before[@]}"; do contains "$secret" "${wanted[@]}" || removed=$((removed + 1)); done
fingerprints=()
for secret in "${wanted[@]}"; do fingerprints+=("$(fingerprint "$secret")"); done
log "realm $realm: ${#wanted[@]} secret(s) accepted, $added added, $removed removed (coturn keeps running)"
printf '{"realm":"%s","accepted":%s,"added":%d,"removed":%d}\n' "$realm" "$(json_list "${fingerprints[@]}")" "$added" "$removed"
