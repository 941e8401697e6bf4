#!/bin/bash
# tunnel.sh - the README's "Protecting the link to Redis", on loopback:
# postmeter -> stunnel (client, 127.0.0.1) -> Redis's own TLS port, the
# only port that Redis opens (port 0: no plain port at all), with a CA, a
# server certificate stunnel checks by name and a client certificate Redis
# asks for (tls-auth-clients). postmeter's configuration names the local
# end of the tunnel, so it is no warning; the password and the counters go
# through the tunnel (mail is counted, postmeterctl reads the counts), a
# plain client and a TLS client without a certificate are turned away, and
# with the tunnel stopped postmeter reaches Redis no more. A remote
# redis.host is a warning of postmeter -n and postmeterctl check-config.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli stunnel4 openssl
if [ "$(id -u)" != 0 ]; then # stunnel drops to its user stunnel4, as the package runs it
    [ "${POSTMETER_TEST_STRICT:-0}" = 1 ] && pm_fail "tunnel.sh needs root (stunnel's setuid)"
    echo "SKIP: tunnel.sh needs root" >&2
    exit 77
fi

# --- certificates: a CA, Redis's (redis.test), this mail server's (mail1) -------
T=$PM_TMP/tls
mkdir -m 0700 "$T"
# Make key $1.key and certificate $1.crt for common name $2, signed by the CA.
cert() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$2" 2>>"$T/openssl.log" &&
        printf 'subjectAltName=DNS:%s\n' "$2" >"$T/$1.ext" &&
        openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
            -days 2 -extfile "$T/$1.ext" -out "$T/$1.crt" 2>>"$T/openssl.log" ||
        pm_fail "openssl: $(tail -n 3 "$T/openssl.log")"
}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$T/ca.key" -out "$T/ca.crt" -subj "/CN=postmeter test CA" 2>>"$T/openssl.log" ||
    pm_fail "openssl: $(tail -n 3 "$T/openssl.log")"
cert redis redis.test
cert mail1 mail1.test

# --- Redis: a TLS port, no plain port, a password --------------------------------
RPW=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
TLS_PORT=$(pm_free_port)
mkdir -p "$PM_TMP/redis"
redis-server --port 0 --tls-port "$TLS_PORT" --bind 127.0.0.1 --dir "$PM_TMP/redis" \
    --tls-cert-file "$T/redis.crt" --tls-key-file "$T/redis.key" \
    --tls-ca-cert-file "$T/ca.crt" --tls-auth-clients yes --requirepass "$RPW" \
    --save '' --appendonly no --daemonize yes \
    --pidfile "$PM_TMP/redis/redis.pid" --logfile "$PM_TMP/redis/redis.log" ||
    pm_fail "redis-server did not start with TLS"
pm_on_exit "pm_redis_stop"
pm_wait_port "$TLS_PORT" || pm_fail "redis-server is not listening on $TLS_PORT"
# redis-cli over TLS with mail1's certificate (as an administrator would check)
tls_cli() {
    REDISCLI_AUTH=$RPW redis-cli --tls --cacert "$T/ca.crt" --cert "$T/mail1.crt" \
        --key "$T/mail1.key" --sni redis.test -h 127.0.0.1 -p "$TLS_PORT" "$@"
}
pm_assert_eq PONG "$(tls_cli PING)" "Redis over TLS"
out=$(REDISCLI_AUTH=$RPW timeout 10 redis-cli -h 127.0.0.1 -p "$TLS_PORT" PING 2>&1) || true
[ "$out" != PONG ] || pm_fail "a plain client reached the TLS port"
out=$(REDISCLI_AUTH=$RPW timeout 10 redis-cli --tls --cacert "$T/ca.crt" -h 127.0.0.1 \
    -p "$TLS_PORT" PING 2>&1) || true
[ "$out" != PONG ] || pm_fail "a TLS client without a certificate got in"

# --- the tunnel's client end, as in the README ------------------------------------
LOCAL=$(pm_free_port)
cat >"$T/stunnel.conf" <<EOF
foreground = yes
pid =
setuid = stunnel4
setgid = stunnel4
debug = info

[redis]
client = yes
accept = 127.0.0.1:$LOCAL
connect = 127.0.0.1:$TLS_PORT
cert = $T/mail1.crt
key = $T/mail1.key
CAfile = $T/ca.crt
verifyChain = yes
checkHost = redis.test
sslVersionMin = TLSv1.2
EOF
stunnel4 "$T/stunnel.conf" 2>"$PM_TMP/stunnel.log" &
STUNNEL=$!
pm_on_exit "kill $STUNNEL"
pm_wait_port "$LOCAL" || pm_fail "stunnel is not listening: $(tail -n 5 "$PM_TMP/stunnel.log")"
pm_assert_eq stunnel4 "$(pm_proc_user "$STUNNEL")" "stunnel's user"

# --- postmeter through the tunnel ---------------------------------------------------
(umask 077 && printf '%s\n' "$RPW" >"$PM_TMP/redis.pass")
PM_REDIS_PORT=$LOCAL PM_REDIS_EXTRA="password_file = \"$PM_TMP/redis.pass\";" \
    PM_MILTER_SOCKET="unix:$PM_TMP/pm.sock" pm_write_conf "$PM_TMP/pm.conf" <<'EOF'
outbound: { networks = [ ]; };
plans: { default: { messages_per_hour = 5; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
EOF
out=$("$PM" -n -c "$PM_TMP/pm.conf" 2>&1) || pm_fail "postmeter -n: $out"
pm_assert_eq "$PM_TMP/pm.conf: configuration OK" "$out" "the tunnel's end is local: no warning"
"$PM" -c "$PM_TMP/pm.conf" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill $PID"
PM_FAIL_LOGS="$PM_TMP/pm.log $PM_TMP/stunnel.log"
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start"

# Send $1 messages as alice; print how many were accepted.
send() {
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$1" -f alice@example.com -a alice@example.com \
        -r bob@example.org 2>&1 | pm_summary - accepted
}
pm_assert_eq 5 "$(send 7)" "the hourly limit of 5, counted in Redis through the tunnel"
grep -q "stage=eom action=tempfail reason=msgs_hour sender=alice@example.com" "$PM_TMP/pm.log" ||
    grep -q "stage=rcpt action=tempfail reason=msgs_hour sender=alice@example.com" "$PM_TMP/pm.log" ||
    pm_fail "no refusal over the limit"
grep -q "store_error" "$PM_TMP/pm.log" && pm_fail "a store error through the tunnel"
grep -q "Service \[redis\] accepted connection from 127.0.0.1" "$PM_TMP/stunnel.log" ||
    pm_fail "stunnel saw no connection"
json=$("$CTL" -c "$PM_TMP/pm.conf" --json status alice@example.com) || pm_fail "postmeterctl status"
grep -q '"messages_per_hour":{"used":5,"limit":5}' <<<"$json" || pm_fail "status through the tunnel: $json"
[ "$(tls_cli --scan --pattern "$(pm_key alice@example.com '*')" | wc -l)" -gt 0 ] ||
    pm_fail "no key of alice in Redis"

# --- without the tunnel, postmeter reaches Redis no more -----------------------------
kill "$STUNNEL"
wait "$STUNNEL" 2>/dev/null || true
"$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m 1 -f carol@example.com -a carol@example.com \
    -r bob@example.org >/dev/null 2>&1
pm_wait_grep "stage=eom action=accept reason=store_error sender=carol@example.com" "$PM_TMP/pm.log" ||
    pm_fail "a message with the tunnel down was not a store error"
pm_stop_clean "$PID" postmeter

# --- a remote Redis is a warning (the file is checked, nothing connects) ----------
printf 'user = "";\nredis: {\n  host = "192.0.2.10";\n};\n' >"$PM_TMP/remote.conf"
want="$PM_TMP/remote.conf:3: warning: redis.host \"192.0.2.10\" is not a loopback address: hiredis has no TLS, so the Redis password and every counter cross the network in clear; reach Redis through a tunnel on 127.0.0.1 (README: Protecting the link to Redis), or set redis.network_encrypted = true if the network itself is encrypted (WireGuard, IPsec)"
pm_assert_eq "$want
$PM_TMP/remote.conf: configuration OK" "$("$PM" -n -c "$PM_TMP/remote.conf" 2>&1)" "postmeter -n, remote"
pm_assert_eq "$want
$PM_TMP/remote.conf: configuration OK" "$("$CTL" check-config "$PM_TMP/remote.conf" 2>&1)" \
    "postmeterctl check-config, remote"
printf 'user = "";\nredis: {\n  host = "192.0.2.10";\n  network_encrypted = true;\n};\n' \
    >"$PM_TMP/remote.conf"
pm_assert_eq "$PM_TMP/remote.conf: configuration OK" "$("$PM" -n -c "$PM_TMP/remote.conf" 2>&1)" \
    "postmeter -n, remote on an encrypted network"
echo "tunnel: ok"
