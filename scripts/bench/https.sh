# Sourced by scripts/bench.sh for the table rows ts_https and veth_https:
# nginx with TLS 1.3 and a certificate made at bench time, `tunstack get`
# against it on tun0, curl against it over a veth pair.

# nginx with TLS serving HTTPS_MIB MiB (a sparse file) as https://bench.test:8443/big,
# with a CA and a server certificate made here; the same files for both rows.
https_setup() {
    local c
    for c in nginx curl openssl; do
        command -v "$c" > /dev/null 2>&1 || {
            echo "scripts/bench.sh: '$c' not found for the https rows (Debian: apt-get install nginx curl openssl; or BENCH_ROWS to skip them)" >&2
            exit 2
        }
    done
    TLS_DIR="$logdir/tls"
    mkdir -p "$TLS_DIR/www"
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 2 -subj "/CN=tunstack bench CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj /CN=bench.test
        printf 'subjectAltName=DNS:bench.test\nextendedKeyUsage=serverAuth\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem
    ) > "$logdir/openssl.log" 2>&1 || {
        sed 's/^/    /' "$logdir/openssl.log" >&2
        exit 1
    }
    truncate -s "${HTTPS_MIB}M" "$TLS_DIR/www/big"
    cat > "$TLS_DIR/nginx.conf" << EOF
daemon off; pid $TLS_DIR/nginx.pid; error_log $TLS_DIR/error.log; worker_processes 1; user root;
events { worker_connections 64; }
http { access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path $TLS_DIR/b; proxy_temp_path $TLS_DIR/p; fastcgi_temp_path $TLS_DIR/f;
  uwsgi_temp_path $TLS_DIR/u; scgi_temp_path $TLS_DIR/s;
  server { listen 8443 ssl; root $TLS_DIR/www; ssl_protocols TLSv1.3;
    ssl_certificate $TLS_DIR/server.pem; ssl_certificate_key $TLS_DIR/server.key; } }
EOF
}

# nginx from https_setup in NS, once it answers on loopback; its pid in HTTPS_NGINX.
https_nginx() { # NS
    local i
    ip netns exec "$1" nginx -c "$TLS_DIR/nginx.conf" -p "$TLS_DIR" > "$logdir/nginx.log" 2>&1 &
    HTTPS_NGINX=$!
    bg_pids+=("$HTTPS_NGINX")
    for i in $(seq 100); do
        ip netns exec "$1" curl -s -o /dev/null -k -r 0-0 https://127.0.0.1:8443/big && return 0
        sleep 0.1
    done
    echo "scripts/bench.sh: nginx with TLS did not start" >&2
    sed 's/^/    /' "$logdir/nginx.log" "$TLS_DIR/error.log" >&2
    exit 1
}

# Runs a download COMMAND that prints "%{size_download} %{time_total}" and
# sets R_VALUE (Gbit/s of body) and R_UNIT; a short or failed one stops the bench.
https_result() { # COMMAND...
    local log="$logdir/run.log" rc=0 size secs
    timeout --kill-after=10 "$LIMIT" "$@" > "$log" 2> "$logdir/run.err" || rc=$?
    read -r size secs < <(tail -n 1 "$log")
    if [ "$rc" -ne 0 ] || [ "${size:-0}" != "$((HTTPS_MIB << 20))" ]; then
        echo "scripts/bench.sh: failed (exit $rc, ${size:-0} bytes): $*" >&2
        sed 's/^/    /' "$logdir/run.err" >&2
        exit 1
    fi
    R_VALUE="$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.3f", b * 8 / s / 1e9 }')"
    R_UNIT=Gbit/s
}

# `tunstack get` in a fresh namespace with nginx (tun0 comes up with tunstack).
https_tun_run() {
    local ns
    new_ns ns
    https_nginx "$ns"
    https_result ip netns exec "$ns" "$TS_BIN" get -s -o /dev/null --cacert "$TLS_DIR/ca.pem" \
        --resolve bench.test:10.0.0.1 -w '%{size_download} %{time_total}\n' https://bench.test:8443/big
    kill "$HTTPS_NGINX" 2> /dev/null || true
    wait "$HTTPS_NGINX" 2> /dev/null || true
    del_ns "$ns"
}

# curl (the kernel's TCP) in A, nginx in B, over a veth pair (MTU 1500).
https_veth_run() {
    local a b
    new_ns a
    new_ns b
    veth_pair "$a" "$b" "" 10.0.0.1/24 10.0.0.2/24
    https_nginx "$b"
    https_result ip netns exec "$a" curl -s -o /dev/null --cacert "$TLS_DIR/ca.pem" \
        --resolve bench.test:8443:10.0.0.2 -w '%{size_download} %{time_total}\n' https://bench.test:8443/big
    kill "$HTTPS_NGINX" 2> /dev/null || true
    wait "$HTTPS_NGINX" 2> /dev/null || true
    del_ns "$a" "$b"
}
