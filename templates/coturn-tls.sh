#!/bin/bash
# coturn-tls: the TLS certificate of a TURN VM, in one of three modes:
#   acme         Let's Encrypt (or another ACME CA) through certbot, DNS-01 with the Cloudflare plugin; renewed here
#   provided     a chain and key from the stack config; nothing to renew (a warning when it nears expiry)
#   self-signed  made here (EC P-256), renewed here
# coturn reads its certificate from the `cert=` and `pkey=` files of turnserver.conf. A new one is staged next to
# them (root:turnserver 0640), checked (parses, key matches the leaf, not expired, readable by coturn's user), renamed
# into place, and loaded with SIGUSR2, which keeps every allocation; never a restart, never SIGHUP (which ends coturn
# when it logs to syslog). A failed check replaces nothing and signals nothing: the current certificate keeps
# serving. Nothing secret (the DNS API token, a private key) is ever printed or passed as an argument.
#
# Usage: coturn-tls deliver|install|renew|status [--config FILE] [--state-dir DIR] [--pidfile FILE] [options]
#   deliver [--ready-marker FILE]
#                      `pulumi up` runs it over SSH with one JSON document on stdin (after waiting for FILE, default
#                      /var/lib/coturn-pulumi/bootstrapped, which coturn-bootstrap writes once coturn runs):
#                        {"mode":"acme","names":[...],"email":"...","server":"https://.../directory","dnsApiToken":"..."}
#                        {"mode":"provided","certificateChain":"PEM","privateKey":"PEM"}
#                        {"mode":"self-signed","names":[...]}
#                      gets a certificate only when needed (none yet, other names or CA, under 30 days left), installs
#                      it, and prints one JSON line describing the installed certificate. Running it again with the
#                      same input changes nothing.
#   install [--from DIR] [--no-reload]
#                      installs DIR/fullchain.pem and DIR/privkey.pem (default DIR: certbot's $RENEWED_LINEAGE, as
#                      the deploy hook), then SIGUSR2 and a check that new TLS handshakes get the new certificate
#   renew [--force]    the twice-daily timer: renews when due (--force: now), in the mode deliver recorded
#   status             the installed certificate as JSON, and whether coturn serves it
# Options: --config turnserver.conf (default /etc/turnserver.conf), --state-dir (default /etc/coturn/acme: the
# delivered settings, the Cloudflare credentials file and certbot's own directories), --pidfile coturn's pid file
# (default: systemd's MainPID of coturn.service). Environment: COTURN_TLS_DNS_PROPAGATION_SECONDS, how long certbot
# waits for the TXT record to reach Cloudflare's name servers (default 30).
# shellcheck disable=SC2016 # the single-quoted $names are jq's variables, not the shell's
set -euo pipefail
umask 077
export LC_ALL=C

# Errors go to the journal too (messages never hold a secret), so an operator finds them on the VM.
fail() { echo "coturn-tls: ERROR: $*" >&2; logger --tag coturn-tls --priority user.err -- "ERROR: $*" 2>/dev/null || true; exit 1; }
log() { echo "coturn-tls: $*" >&2; }
usage="usage: coturn-tls deliver|install|renew|status [--config FILE] [--state-dir DIR] [--pidfile FILE] [--ready-marker FILE] [--from DIR] [--no-reload] [--force]"

action="${1:-}"
[ "$#" -gt 0 ] && shift
config=/etc/turnserver.conf
state_dir=/etc/coturn/acme
pidfile=""
from=""
reload=true
force=false
ready_marker=/var/lib/coturn-pulumi/bootstrapped
while [ "$#" -gt 0 ]; do
  case "$1" in
    --config) config="${2:-}"; shift 2 ;;
    --state-dir) state_dir="${2:-}"; shift 2 ;;
    --pidfile) pidfile="${2:-}"; shift 2 ;;
    --from) [ "$action" = install ] || fail "--from is for install only ($usage)"; from="${2:-}"; shift 2 ;;
    --no-reload) [ "$action" = install ] || fail "--no-reload is for install only ($usage)"; reload=false; shift ;;
    --force) [ "$action" = renew ] || fail "--force is for renew only ($usage)"; force=true; shift ;;
    --ready-marker) [ "$action" = deliver ] || fail "--ready-marker is for deliver only ($usage)"; ready_marker="${2:-}"; shift 2 ;;
    *) fail "unknown argument '$1' ($usage)" ;;
  esac
done
case "$action" in
  deliver|install|renew|status) ;;
  *) fail "unknown action '$action' ($usage)" ;;
esac

# The paths end up in certbot's stored deploy hook, which /bin/sh runs: keep them to characters that need no quoting.
readonly safe_path='^/[A-Za-z0-9_./+-]*$'
for path in "$config" "$state_dir" ${pidfile:+"$pidfile"} "$ready_marker"; do
  [[ "$path" =~ $safe_path ]] || fail "'$path' must be an absolute path of letters, digits and _ . / + - only"
done
self="$(readlink -f "${BASH_SOURCE[0]}")"
[[ "$self" =~ $safe_path ]] || fail "this script's own path '$self' must be of letters, digits and _ . / + - only"
readonly config state_dir pidfile ready_marker self

propagation="${COTURN_TLS_DNS_PROPAGATION_SECONDS:-30}"
[[ "$propagation" =~ ^[0-9]{1,3}$ ]] || fail "COTURN_TLS_DNS_PROPAGATION_SECONDS must be a number of seconds (0-999), got '$propagation'"
readonly renew_before_days=30
readonly warn_provided_days=14
readonly self_signed_days=365

# --- coturn's configuration ------------------------------------------------------------------------------------------
[ -r "$config" ] || fail "cannot read coturn's configuration $config"
# `key=value` lines; the last one wins, as in coturn (except listening-ip: the first is where we check TLS).
conf_values() { sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$config" | sed -E 's/[[:space:]]+$//; s/^"(.*)"$/\1/'; }
cert_path="$(conf_values cert | tail -n 1)"
key_path="$(conf_values pkey | tail -n 1)"
[[ "$cert_path" == /* ]] || fail "$config has no cert= line with an absolute path (where coturn reads the certificate chain)"
[[ "$key_path" == /* ]] || fail "$config has no pkey= line with an absolute path (where coturn reads the private key)"
tls_ip="$(conf_values listening-ip | head -n 1)"
tls_ip="${tls_ip:-127.0.0.1}"
tls_port="$(conf_values tls-listening-port | tail -n 1)"
tls_port="${tls_port:-5349}"
[[ "$tls_port" =~ ^[0-9]+$ ]] || fail "$config has tls-listening-port=$tls_port, not a port number"
server_name="$(conf_values server-name | tail -n 1)"
if [[ "$tls_ip" == *:* ]]; then tls_endpoint="[$tls_ip]:$tls_port"; else tls_endpoint="$tls_ip:$tls_port"; fi
readonly cert_path key_path tls_ip tls_port server_name tls_endpoint

readonly settings="$state_dir/settings.json"
readonly credentials="$state_dir/cloudflare.ini"
readonly certbot_config="$state_dir/certbot/config"
readonly certbot_work="$state_dir/certbot/work"
readonly certbot_logs="$state_dir/certbot/logs"
readonly lineage="$certbot_config/live/coturn"

install_cmd=("$self" install --config "$config" --state-dir "$state_dir")
[ -z "$pidfile" ] || install_cmd+=(--pidfile "$pidfile")
readonly install_cmd
# certbot stores this in the lineage's renewal settings and runs it (with /bin/sh) after every issuance.
readonly deploy_hook="${install_cmd[*]}"

# --- Certificates ----------------------------------------------------------------------------------------------------
x509() { openssl x509 -in "$1" -noout "${@:2}" 2>/dev/null; }
fingerprint() { x509 "$1" -fingerprint -sha256 | sed 's/^[^=]*=//'; }
# Sorted, one a line: the DNS names of the certificate's subjectAltName.
cert_names() { x509 "$1" -ext subjectAltName | tail -n +2 | tr ',' '\n' | sed -n 's/^[[:space:]]*DNS://p' | sort -u; }
not_after() { x509 "$1" -enddate | sed 's/^notAfter=//'; }
not_after_iso() { date -u -d "$(not_after "$1")" +%Y-%m-%dT%H:%M:%SZ; }
days_left() { echo $(( ( $(date -u -d "$(not_after "$1")" +%s) - $(date +%s) ) / 86400 )); }
expires_within_days() { ! x509 "$1" -checkend $(( $2 * 86400 )) >/dev/null; }
key_digest() { openssl pkey -in "$1" -passin pass: -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
cert_key_digest() { x509 "$1" -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
owner_mode() { stat -c '%U:%G, mode %a' "$1" 2>/dev/null || echo "missing"; }

# The certificate coturn serves now, for messages about what keeps serving.
current_summary() {
  if x509 "$cert_path" >/dev/null; then
    echo "until $(not_after_iso "$cert_path") ($(days_left "$cert_path") days)"
  else
    echo "(no readable certificate at $cert_path)"
  fi
}

# The fingerprint of the certificate a new TLS handshake with coturn gets, or nothing.
served_fingerprint() {
  local served
  served="$(timeout 2 openssl s_client -connect "$tls_endpoint" ${server_name:+-servername "$server_name"} </dev/null 2>/dev/null || true)"
  printf '%s\n' "$served" | openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/^[^=]*=//' || true
}

recorded_mode() { if [ -r "$settings" ]; then jq -r '.mode // "unknown"' "$settings"; else echo unknown; fi; }

# One JSON line: the installed certificate, and whether a new handshake gets it (null: coturn answered no TLS).
status_json() {
  local changed="${1:-}" fp served
  x509 "$cert_path" >/dev/null || fail "no readable certificate at $cert_path (cert= in $config)"
  fp="$(fingerprint "$cert_path")"
  served="$(served_fingerprint)"
  jq -cn \
    --arg mode "$(recorded_mode)" \
    --arg names "$(cert_names "$cert_path")" \
    --arg notAfter "$(not_after_iso "$cert_path")" \
    --argjson daysLeft "$(days_left "$cert_path")" \
    --arg issuer "$(x509 "$cert_path" -issuer -nameopt RFC2253 | sed 's/^issuer=//')" \
    --arg serial "$(x509 "$cert_path" -serial | sed 's/^serial=//')" \
    --arg sha256 "$fp" \
    --arg served "$served" \
    --arg changed "$changed" \
    '{mode: $mode, names: ($names | split("\n") | map(select(length > 0))), notAfter: $notAfter, daysLeft: $daysLeft,
      issuer: $issuer, serial: $serial, sha256: $sha256,
      served: (if $served == "" then null else {sha256: $served, matches: ($served == $sha256)} end)}
     + (if $changed == "" then {} else {changed: ($changed == "true")} end)'
}

# --- install ---------------------------------------------------------------------------------------------------------
coturn_pid() {
  local pid=0
  if [ -n "$pidfile" ]; then
    [ -r "$pidfile" ] && read -r pid <"$pidfile" || pid=0
  else
    pid="$(systemctl show --property MainPID --value coturn 2>/dev/null || echo 0)"
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] || pid=0
  # Only a live turnserver: never signal a pid that was recycled by another process.
  if [ "$pid" -gt 0 ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = turnserver ]; then echo "$pid"; else echo 0; fi
}

# Says why turnserver cannot read FILE: the first directory on the path it cannot enter, or the file itself.
unreadable_because() {
  local file="$1" dir="" part
  local -a parts
  IFS=/ read -r -a parts <<<"${file#/}"
  for part in "${parts[@]:0:${#parts[@]}-1}"; do
    dir="$dir/$part"
    if ! runuser -u turnserver -- test -x "$dir"; then
      echo "the directory $dir ($(owner_mode "$dir")) is not searchable by user turnserver. Fix: chown root:turnserver $dir && chmod 0750 $dir"
      return
    fi
  done
  echo "$file ($(owner_mode "$file")) is not readable by user turnserver. Fix: chown root:turnserver $file && chmod 0640 $file"
}

do_install() {
  local source="${from:-${RENEWED_LINEAGE:-}}"
  [ -n "$source" ] || fail "install needs --from DIR (or certbot's RENEWED_LINEAGE) holding fullchain.pem and privkey.pem"
  local chain="$source/fullchain.pem" key="$source/privkey.pem"
  local keeps
  keeps="nothing was replaced and coturn was not signalled: the current certificate keeps serving $(current_summary)"
  [ -r "$chain" ] || fail "cannot read the new certificate chain $chain ($(owner_mode "$chain")); $keeps"
  [ -r "$key" ] || fail "cannot read the new private key $key ($(owner_mode "$key")); $keeps"
  x509 "$chain" >/dev/null || fail "$chain is not a PEM certificate chain; $keeps"
  openssl crl2pkcs7 -nocrl -certfile "$chain" >/dev/null 2>&1 || fail "$chain holds a certificate that does not parse; $keeps"
  local key_sum
  key_sum="$(key_digest "$key")"
  [ "$key_sum" != "$(printf '' | sha256sum | cut -d' ' -f1)" ] || fail "$key is not an unencrypted PEM private key; $keeps"
  [ "$key_sum" = "$(cert_key_digest "$chain")" ] \
    || fail "the private key $key does not belong to the first (leaf) certificate of $chain; $keeps"
  x509 "$chain" -checkend 0 >/dev/null || fail "the certificate in $chain expired on $(not_after "$chain"); $keeps"

  getent passwd turnserver >/dev/null || fail "user turnserver does not exist (is the coturn package installed?); $keeps"
  local staged_cert staged_key
  staged_cert="$(dirname "$cert_path")/.$(basename "$cert_path").coturn-tls-new"
  staged_key="$(dirname "$key_path")/.$(basename "$key_path").coturn-tls-new"
  [ -d "$(dirname "$cert_path")" ] || fail "the directory of cert=$cert_path does not exist; $keeps"
  [ -d "$(dirname "$key_path")" ] || fail "the directory of pkey=$key_path does not exist; $keeps"
  # shellcheck disable=SC2064 # the staged paths are fixed now
  trap "rm -f -- '$staged_cert' '$staged_key'" EXIT
  install -o root -g turnserver -m 0640 "$chain" "$staged_cert" || fail "cannot write $staged_cert; $keeps"
  install -o root -g turnserver -m 0640 "$key" "$staged_key" || fail "cannot write $staged_key; $keeps"
  # coturn runs as turnserver: a file it cannot read turns TLS off with only a warning in its log.
  local staged target
  for staged in "$staged_cert" "$staged_key"; do
    if [ "$staged" = "$staged_cert" ]; then target="certificate chain for $cert_path"; else target="private key for $key_path"; fi
    runuser -u turnserver -- test -r "$staged" \
      || fail "coturn's user turnserver could not read the new $target: $(unreadable_because "$staged"). Then run coturn-tls renew (or install) again. The staged files were removed, $keeps"
  done

  mv -f -- "$staged_cert" "$cert_path"
  mv -f -- "$staged_key" "$key_path"
  trap - EXIT
  local new_fp pid
  new_fp="$(fingerprint "$cert_path")"
  pid="$(coturn_pid)"
  if [ "$reload" = false ] || [ "$pid" -eq 0 ]; then
    log "installed certificate $new_fp at $cert_path; coturn is not running (or --no-reload): it loads it when it starts"
    return
  fi
  kill -USR2 "$pid"
  # coturn hands the new TLS context to each of its threads: ask until three handshakes in a row get the new
  # certificate (in the lab the first one already did).
  local deadline=$((SECONDS + 10)) served="" matches=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    served="$(served_fingerprint)"
    if [ "$served" = "$new_fp" ]; then
      matches=$((matches + 1))
      if [ "$matches" -ge 3 ]; then
        log "installed certificate $new_fp; coturn (pid $pid) reloaded it with SIGUSR2 and serves it on $tls_endpoint"
        return
      fi
    else
      matches=0
      sleep 0.2
    fi
  done
  fail "the new certificate $new_fp is in place at $cert_path and coturn (pid $pid) got SIGUSR2, but a new TLS handshake" \
    "to $tls_endpoint still gets ${served:-no certificate} after 10 s. Check coturn's log (journalctl -u coturn);" \
    "'systemctl restart coturn' loads it for sure but ends every allocation"
}

# --- deliver ---------------------------------------------------------------------------------------------------------
input=""
jq_in() { printf '%s' "$input" | jq "$@"; }

# Fails unless the document has exactly the allowed fields (names of fields are printed, never values).
only_fields() {
  local unknown
  unknown="$(jq_in -r --args '(keys - $ARGS.positional) | join(", ")' "$@")"
  [ -z "$unknown" ] || fail "stdin has field(s) $unknown, which mode $mode does not take (it takes: $*)"
}
string_field() {
  jq_in -e --arg k "$1" '.[$k] | type == "string" and length > 0' >/dev/null || fail "stdin needs \"$1\": a non-empty string ($2)"
  jq_in -r --arg k "$1" '.[$k]'
}

readonly dns_name='^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
names=()
read_names() {
  jq_in -e '.names | type == "array" and length >= 1 and length <= 100 and all(.[]; type == "string")' >/dev/null \
    || fail "stdin needs \"names\": a list of 1 to 100 DNS names"
  mapfile -t names < <(jq_in -r '.names[]')
  local name seen
  for name in "${names[@]}"; do
    if ! [[ "$name" =~ $dns_name ]] || [ "${#name}" -gt 253 ]; then
      fail "\"names\" holds '$name', which is not a lower-case DNS name"
    fi
  done
  seen="$(printf '%s\n' "${names[@]}" | sort | uniq -d)"
  [ -z "$seen" ] || fail "\"names\" lists $seen twice"
}
same_names() { [ "$(printf '%s\n' "${names[@]}" | sort -u)" = "$(cert_names "$1")" ]; }

write_settings() {
  local tmp="$settings.new"
  jq -n --arg mode "$mode" --args '{mode: $mode, names: $ARGS.positional}' "${names[@]}" \
    | jq --arg email "${email:-}" --arg server "${server:-}" \
      'if $server == "" then . else . + {email: $email, server: $server} end' >"$tmp"
  mv -f -- "$tmp" "$settings"
}

# certbot ignores a failing deploy hook (it exits 0): true when certbot holds a certificate coturn's files do not,
# which deliver and renew then install themselves.
lineage_not_installed() { [ "$(fingerprint "$lineage/cert.pem")" != "$(fingerprint "$cert_path" 2>/dev/null || true)" ]; }

certbot_dirs=(--config-dir "$certbot_config" --work-dir "$certbot_work" --logs-dir "$certbot_logs" --max-log-backups 50)

deliver_acme() {
  only_fields mode names email server dnsApiToken
  read_names
  # Optional: Let's Encrypt sends no expiry emails any more; without one the account has no contact address.
  jq_in -e '(.email // "") | type == "string"' >/dev/null || fail "\"email\" must be a string (empty: no contact address)"
  email="$(jq_in -r '.email // ""')"
  local -a account=(--register-unsafely-without-email)
  if [ -n "$email" ]; then
    [[ "$email" =~ ^[^@[:space:]\"]+@[^@[:space:]\"]+\.[^@[:space:]\"]+$ ]] || fail "\"email\" is '$email', not an email address"
    account=(--email "$email")
  fi
  server="$(string_field server "the ACME directory URL")"
  [[ "$server" =~ ^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%/-]*)?$ ]] || fail "\"server\" is '$server', not an https:// ACME directory URL"
  jq_in -e '.dnsApiToken | type == "string" and test("^[A-Za-z0-9_-]{32,200}$")' >/dev/null \
    || fail "\"dnsApiToken\" is missing or is not a Cloudflare API token (32-200 of A-Z a-z 0-9 _ -); it is not shown"

  # The token goes from stdin to a root-only file, through no argument list (printf is a shell builtin).
  local token tmp="$credentials.new"
  token="$(jq_in -r .dnsApiToken)"
  printf '# Cloudflare API token for certbot-dns-cloudflare (written by coturn-tls deliver)\ndns_cloudflare_api_token = %s\n' "$token" >"$tmp"
  unset token
  chmod 0600 "$tmp"
  mv -f -- "$tmp" "$credentials"

  local reason="" stored_server=""
  [ -r "$certbot_config/renewal/coturn.conf" ] && stored_server="$(sed -n 's/^server = //p' "$certbot_config/renewal/coturn.conf")"
  if ! x509 "$lineage/cert.pem" >/dev/null; then
    reason="there is no certificate yet"
  elif [ "$stored_server" != "$server" ]; then
    reason="the ACME server changed (from ${stored_server:-unknown})"
  elif ! same_names "$lineage/cert.pem"; then
    reason="the names changed (the certificate has: $(cert_names "$lineage/cert.pem" | paste -sd ' '))"
  elif expires_within_days "$lineage/cert.pem" "$renew_before_days"; then
    reason="the certificate expires within $renew_before_days days"
  fi
  if [ -n "$reason" ]; then
    log "requesting a certificate for ${names[*]} from $server: $reason"
    local -a args=(certonly --non-interactive --agree-tos --no-eff-email "${account[@]}" --server "$server"
      "${certbot_dirs[@]}" --dns-cloudflare --dns-cloudflare-credentials "$credentials"
      --dns-cloudflare-propagation-seconds "$propagation" --cert-name coturn --key-type ecdsa --deploy-hook "$deploy_hook")
    x509 "$lineage/cert.pem" >/dev/null && args+=(--force-renewal)
    local name
    for name in "${names[@]}"; do args+=(-d "$name"); done
    # certbot's report goes to stderr: stdout carries only this script's JSON line.
    certbot "${args[@]}" >&2 || fail "certbot could not get a certificate for ${names[*]} from $server (see above, and $certbot_logs/letsencrypt.log); the current certificate keeps serving $(current_summary)"
    changed=true
  fi
  if lineage_not_installed; then
    "${install_cmd[@]}" --from "$lineage" >/dev/null
    changed=true
  fi
  # Recorded only now: the renewal timer must not switch to a mode whose certificate was never installed.
  write_settings
}

deliver_provided() {
  only_fields mode certificateChain privateKey
  jq_in -e '.certificateChain | type == "string" and test("-----BEGIN CERTIFICATE-----")' >/dev/null \
    || fail "stdin needs \"certificateChain\": the PEM certificate chain, leaf first"
  jq_in -e '.privateKey | type == "string" and test("-----BEGIN [A-Z ]*PRIVATE KEY-----")' >/dev/null \
    || fail "stdin needs \"privateKey\": the unencrypted PEM private key of the chain's leaf (it is not shown)"
  local dir
  dir="$(mktemp -d "$state_dir/provided.XXXXXX")"
  # shellcheck disable=SC2064 # the directory is fixed now
  trap "rm -rf -- '$dir'" EXIT
  jq_in -r .certificateChain >"$dir/fullchain.pem"
  jq_in -r .privateKey >"$dir/privkey.pem"
  x509 "$dir/fullchain.pem" >/dev/null || fail "\"certificateChain\" does not parse as a PEM certificate"
  openssl pkey -in "$dir/privkey.pem" -passin pass: -noout 2>/dev/null \
    || fail "\"privateKey\" does not parse as an unencrypted PEM private key (it is not shown)"
  [ "$(key_digest "$dir/privkey.pem")" = "$(cert_key_digest "$dir/fullchain.pem")" ] \
    || fail "\"privateKey\" does not belong to the first (leaf) certificate of \"certificateChain\" ($(x509 "$dir/fullchain.pem" -subject -nameopt RFC2253)); nothing was installed, the current certificate keeps serving $(current_summary)"
  x509 "$dir/fullchain.pem" -checkend 0 >/dev/null || fail "\"certificateChain\" expired on $(not_after "$dir/fullchain.pem"); nothing was installed"
  if expires_within_days "$dir/fullchain.pem" "$warn_provided_days"; then
    log "WARNING: the provided certificate expires in $(days_left "$dir/fullchain.pem") days; deliver a new one soon"
  fi
  if cmp -s "$dir/fullchain.pem" "$cert_path" && cmp -s "$dir/privkey.pem" "$key_path" \
    && [ "$(served_fingerprint)" = "$(fingerprint "$cert_path")" ]; then
    log "the provided certificate is already installed and served"
  else
    "${install_cmd[@]}" --from "$dir" >/dev/null
    changed=true
  fi
  rm -rf -- "$dir"
  trap - EXIT
  names=()
  write_settings
}

# Makes a self-signed EC P-256 certificate for names[] in a new directory under the state dir; prints the directory.
make_self_signed() {
  local dir sans
  dir="$(mktemp -d "$state_dir/self-signed.XXXXXX")"
  sans="$(printf 'DNS:%s,' "${names[@]}")"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$self_signed_days" \
    -subj "/CN=${names[0]}" -addext "subjectAltName=${sans%,}" \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null || { rm -rf -- "$dir"; return 1; }
  echo "$dir"
}

self_signed_needed() {
  if ! x509 "$cert_path" >/dev/null; then echo "there is no certificate yet"
  elif [ "$(x509 "$cert_path" -issuer -nameopt RFC2253 | sed 's/^issuer=//')" != "$(x509 "$cert_path" -subject -nameopt RFC2253 | sed 's/^subject=//')" ]; then
    echo "the installed certificate is not self-signed"
  elif ! same_names "$cert_path"; then echo "the names changed"
  elif expires_within_days "$cert_path" "$renew_before_days"; then echo "it expires within $renew_before_days days"
  fi
}

deliver_self_signed() {
  only_fields mode names
  read_names
  local reason dir
  reason="$(self_signed_needed)"
  if [ -n "$reason" ]; then
    log "making a self-signed certificate for ${names[*]}: $reason"
    dir="$(make_self_signed)" || fail "openssl could not make a self-signed certificate"
    # shellcheck disable=SC2064 # the directory is fixed now
    trap "rm -rf -- '$dir'" EXIT
    "${install_cmd[@]}" --from "$dir" >/dev/null
    rm -rf -- "$dir"
    trap - EXIT
    changed=true
  fi
  write_settings
}

do_deliver() {
  input="$(head -c 262144)"
  [ -n "$input" ] || fail "stdin is empty: deliver reads one JSON document (see the header of $self)"
  jq_in -e 'type == "object"' >/dev/null 2>&1 || fail "stdin is not one JSON object"
  mode="$(jq_in -r '.mode // "" | strings')"
  # On a fresh VM, pulumi up connects as soon as SSH answers: wait (at most 10 minutes) until the first boot has set
  # up and restarted coturn, so that an installation never races the bootstrap's restart.
  local attempt
  for attempt in $(seq 1 300); do
    [ ! -e "$ready_marker" ] || break
    [ "$attempt" -eq 1 ] && log "waiting for the first boot to finish (coturn-bootstrap writes $ready_marker)"
    [ "$attempt" -lt 300 ] || fail "$ready_marker did not appear within 10 minutes: the first boot did not finish (see /var/log/cloud-init-output.log)"
    sleep 2
  done
  install -d -m 0700 "$state_dir"
  exec 9>"$state_dir/lock"
  flock -w 600 9 || fail "another coturn-tls run holds $state_dir/lock"
  changed=false
  case "$mode" in
    acme) deliver_acme ;;
    provided) rm -f -- "$credentials"; deliver_provided ;;
    self-signed) rm -f -- "$credentials"; deliver_self_signed ;;
    *) fail "stdin's \"mode\" must be acme, provided or self-signed" ;;
  esac
  status_json "$changed"
}

# --- renew -----------------------------------------------------------------------------------------------------------
renewal_failed() {
  local message
  message="TLS certificate renewal FAILED: $*; the current certificate keeps serving $(current_summary)"
  logger -p daemon.crit -t coturn-tls -- "$message" 2>/dev/null || true
  echo "coturn-tls: $message" >&2
  exit 1
}

do_renew() {
  if [ ! -r "$settings" ]; then
    log "no certificate was delivered yet (pulumi up delivers it): nothing to renew"
    return
  fi
  exec 9>"$state_dir/lock"
  flock -w 600 9 || renewal_failed "another coturn-tls run holds $state_dir/lock"
  mode="$(jq -r '.mode // ""' "$settings")"
  case "$mode" in
    acme)
      [ -r "$credentials" ] || renewal_failed "the Cloudflare credentials file $credentials is missing (run pulumi up)"
      x509 "$lineage/cert.pem" >/dev/null || renewal_failed "certbot holds no certificate in $lineage (run pulumi up)"
      # Without a terminal certbot would first sleep up to 8 minutes; the timer already spreads the start (and a
      # forced renewal is wanted now).
      local -a args=(renew --non-interactive --no-random-sleep-on-renew "${certbot_dirs[@]}" --cert-name coturn
        --deploy-hook "$deploy_hook" --dns-cloudflare-propagation-seconds "$propagation")
      [ "$force" = false ] || args+=(--force-renewal)
      local rc=0
      certbot "${args[@]}" >&2 || rc=$?
      [ "$rc" -eq 0 ] || renewal_failed "certbot renew exited with $rc (the ACME server or the Cloudflare API refused; see above and $certbot_logs/letsencrypt.log)"
      if lineage_not_installed; then
        "${install_cmd[@]}" --from "$lineage" >/dev/null || renewal_failed "certbot renewed the certificate but it could not be installed (see above)"
      fi
      ;;
    self-signed)
      mapfile -t names < <(jq -r '.names[]' "$settings")
      local reason dir
      reason="$(self_signed_needed)"
      [ "$force" = false ] || reason="${reason:-renewal forced}"
      if [ -n "$reason" ]; then
        log "making a new self-signed certificate for ${names[*]}: $reason"
        dir="$(make_self_signed)" || renewal_failed "openssl could not make a self-signed certificate"
        # shellcheck disable=SC2064 # the directory is fixed now
        trap "rm -rf -- '$dir'" EXIT
        "${install_cmd[@]}" --from "$dir" >/dev/null || renewal_failed "the new self-signed certificate could not be installed (see above)"
        rm -rf -- "$dir"
        trap - EXIT
      fi
      ;;
    provided)
      x509 "$cert_path" >/dev/null || renewal_failed "no readable certificate at $cert_path"
      x509 "$cert_path" -checkend 0 >/dev/null || renewal_failed "the provided certificate has expired: deliver a new one (tlsCertificate, tlsPrivateKey) with pulumi up"
      if expires_within_days "$cert_path" "$warn_provided_days"; then
        local message
        message="the provided TLS certificate expires in $(days_left "$cert_path") days ($(not_after "$cert_path")): deliver a new one (tlsCertificate, tlsPrivateKey) with pulumi up"
        logger -p daemon.warning -t coturn-tls -- "$message" 2>/dev/null || true
        log "WARNING: $message"
      fi
      ;;
    *) renewal_failed "$settings records mode '$mode', which is not acme, provided or self-signed" ;;
  esac
  local installed served
  installed="$(fingerprint "$cert_path")"
  if [ "$(coturn_pid)" -gt 0 ]; then
    served="$(served_fingerprint)"
    [ "$served" = "$installed" ] || renewal_failed "coturn serves ${served:-no certificate} on $tls_endpoint, not the installed $installed"
  fi
  status_json
}

case "$action" in
  deliver) do_deliver ;;
  install) do_install; status_json ;;
  renew) do_renew ;;
  status) status_json ;;
esac
