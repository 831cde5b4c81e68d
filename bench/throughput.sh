#!/usr/bin/env bash
# Data-plane throughput: veilnet vs wireguard-go vs nebula vs the raw veth, same run, same namespaces.
#
#   ns A (198.18.200.1) ══ veth ══ ns B (198.18.200.2)
#     veilnet       100.64.204.1  ⇄  100.64.204.2   (fixed test keys until handshakes drive it;
#                                                    TUN segmentation offload, UDP GRO, TCP coalescing)
#     veilnet_plain 100.64.201.1  ⇄  100.64.201.2   (same, plain TUN: one packet per read/write)
#     wireguard-go  100.64.202.1  ⇄  100.64.202.2   (userspace, configured over its UAPI socket)
#     nebula        100.64.203.1  ⇄  100.64.203.2   (certificates from nebula-cert)
#
# Each: idle ping RTT, iperf3 TCP single stream (with ping RTT under that load) and -P 4 (DURATION s
# each), peak RSS of the daemons
# (veilnet_rss_mb: the two offload nodes together, like the wireguard-go and nebula pairs), and the
# CPU each side's daemon used during the single-stream test (user + system time of its process, in %
# of one core: `*_cpu_a_pct` sender, `*_cpu_b_pct` receiver; `*_mbps_per_core` = throughput / both
# sides' cores; the kernel's softirq work outside the daemon is not included), and the time from
# starting a system's two daemons to the first ping reply through it (`*_first_ping_ms`; the systems
# start one after another so they do not compete).
# Env: DURATION (10), ROUNDS (1; medians over rounds), MTU (1420), VEILNET_NODE (command that runs
# fixed-key-node; default: compiled with bun build --compile like dist/veilnet), GSO_MAX_SEGS (unset;
# e.g. 1 sets `gso_max_segs` on both veth ends so the underlay segments every GSO send in software:
# receivers then get single datagrams, no UDP GRO batches).
# Root only. The last line is `key=value` pairs.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
MTU=${MTU:-1420}
RUN=vb$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
A=${RUN}A
B=${RUN}B
WORK=$(mktemp -d /tmp/veilnet-bench.XXXXXX)
chmod 700 "$WORK"
PIDS=()

log() { echo "# $*" >&2; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$A" 2>/dev/null
  ip netns del "$B" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "throughput.sh: needs root (network namespaces)" >&2; exit 1; }
for tool in iperf3 ping wireguard-go nebula nebula-cert; do
  command -v "$tool" >/dev/null || { echo "throughput.sh: missing $tool" >&2; exit 1; }
done

ip netns add "$A" && ip netns add "$B"
ip -n "$A" link set lo up && ip -n "$B" link set lo up
ip link add "${RUN}x" netns "$A" type veth peer name "${RUN}y" netns "$B"
ip -n "$A" addr add 198.18.200.1/24 dev "${RUN}x" && ip -n "$A" link set "${RUN}x" up
ip -n "$B" addr add 198.18.200.2/24 dev "${RUN}y" && ip -n "$B" link set "${RUN}y" up
if [ -n "${GSO_MAX_SEGS:-}" ]; then
  ip -n "$A" link set dev "${RUN}x" gso_max_segs "$GSO_MAX_SEGS" || exit 1
  ip -n "$B" link set dev "${RUN}y" gso_max_segs "$GSO_MAX_SEGS" || exit 1
  log "underlay gso_max_segs $GSO_MAX_SEGS"
fi

# ---------------------------------------------------------------- veilnet (fixed keys)
if [ -z "${VEILNET_NODE:-}" ]; then
  log "compiling the fixed-key data-plane node"
  "$BUN" build --compile src/roles/conflux/dataplane/fixed-key-node.ts \
    src/errors.ts --outfile "$WORK/veilnet-node" >/dev/null || exit 1
  VEILNET_NODE="$WORK/veilnet-node"
fi
start_veilnet() { # side ns me peer subnet port tag [--offload]
  # shellcheck disable=SC2086
  ip netns exec "$2" $VEILNET_NODE --side "$1" --tun "${RUN}$7$1" --mtu "$MTU" ${8:-} \
    --overlay "100.64.$5.$3/24" --peer-overlay "100.64.$5.$4" \
    --listen "198.18.200.$3:$6" --peer "198.18.200.$4:$6" >"$WORK/veilnet-$7$1.log" 2>&1 &
  PIDS+=($!)
  eval "VEILNET_PID_$7$1=$!"
}
now_s() { date +%s.%N; }
declare -A FIRST
first_ping() { # system dst start → FIRST[system] = ms from start to the first reply
  for _ in $(seq 200); do
    if ip netns exec "$A" ping -n -q -c 1 -w 20 -i 0.05 "$2" >/dev/null 2>&1; then
      FIRST[$1]=$(awk -v a="$3" -v b="$(now_s)" 'BEGIN {printf "%.0f", (b - a) * 1000}')
      return 0
    fi
    sleep 0.05
  done
  FIRST[$1]=nan
}
t=$(now_s)
start_veilnet a "$A" 1 2 201 51900 p
start_veilnet b "$B" 2 1 201 51900 p
first_ping veilnet_plain 100.64.201.2 "$t"
t=$(now_s)
start_veilnet a "$A" 1 2 204 51902 o --offload
start_veilnet b "$B" 2 1 204 51902 o --offload
first_ping veilnet 100.64.204.2 "$t"

# ---------------------------------------------------------------- wireguard-go
read -r WG_A_PRIV WG_A_PUB < <("$BUN" bench/throughput/wg-uapi.ts keygen)
read -r WG_B_PRIV WG_B_PUB < <("$BUN" bench/throughput/wg-uapi.ts keygen)
start_wg() { # side ns me peer priv peerpub
  local ifname="${RUN}w$1"
  WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 ip netns exec "$2" wireguard-go -f "$ifname" \
    >"$WORK/wg-$1.log" 2>&1 &
  PIDS+=($!)
  eval "WG_PID_$1=$!"
  for _ in $(seq 50); do [ -S "/var/run/wireguard/$ifname.sock" ] && break; sleep 0.1; done
  printf 'private_key=%s\nlisten_port=51901\npublic_key=%s\nendpoint=198.18.200.%s:51901\nallowed_ip=100.64.202.%s/32\n' \
    "$5" "$6" "$4" "$4" | "$BUN" bench/throughput/wg-uapi.ts set "/var/run/wireguard/$ifname.sock" || exit 1
  ip -n "$2" addr add "100.64.202.$3/24" dev "$ifname"
  ip -n "$2" link set "$ifname" mtu "$MTU" up
}
t=$(now_s)
start_wg a "$A" 1 2 "$WG_A_PRIV" "$WG_B_PUB"
start_wg b "$B" 2 1 "$WG_B_PRIV" "$WG_A_PUB"
first_ping wireguard_go 100.64.202.2 "$t"

# ---------------------------------------------------------------- nebula
nebula-cert ca -name "veilnet-bench" -out-crt "$WORK/ca.crt" -out-key "$WORK/ca.key" >/dev/null
start_nebula() { # side ns me peer
  nebula-cert sign -ca-crt "$WORK/ca.crt" -ca-key "$WORK/ca.key" -name "$1" -ip "100.64.203.$3/24" \
    -out-crt "$WORK/$1.crt" -out-key "$WORK/$1.key" >/dev/null
  cat >"$WORK/nebula-$1.yml" <<EOF
pki: { ca: $WORK/ca.crt, cert: $WORK/$1.crt, key: $WORK/$1.key }
static_host_map: { "100.64.203.$4": ["198.18.200.$4:4242"] }
lighthouse: { am_lighthouse: false, hosts: [] }
listen: { host: 198.18.200.$3, port: 4242 }
punchy: { punch: false }
tun: { dev: ${RUN}n$1, mtu: $MTU }
logging: { level: warning }
firewall:
  outbound: [{ port: any, proto: any, host: any }]
  inbound: [{ port: any, proto: any, host: any }]
EOF
  ip netns exec "$2" nebula -config "$WORK/nebula-$1.yml" >"$WORK/nebula-$1.log" 2>&1 &
  PIDS+=($!)
  eval "NEBULA_PID_$1=$!"
}
t=$(now_s)
start_nebula a "$A" 1 2
start_nebula b "$B" 2 1
first_ping nebula 100.64.203.2 "$t"
log "first ping after start (ms): veilnet ${FIRST[veilnet]} (plain ${FIRST[veilnet_plain]})," \
  "wireguard-go ${FIRST[wireguard_go]}, nebula ${FIRST[nebula]}"

ip netns exec "$B" iperf3 -s -D --pidfile "$WORK/iperf3.pid" >/dev/null
sleep 2
PIDS+=("$(cat "$WORK/iperf3.pid" 2>/dev/null)")

# ---------------------------------------------------------------- measurements
wait_reachable() { # dst
  for _ in $(seq 40); do ip netns exec "$A" ping -c1 -W1 "$1" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}
rtt_ms() { # dst → avg ms of 20 idle pings
  ip netns exec "$A" ping -q -c 20 -i 0.05 -W 1 "$1" 2>/dev/null | awk -F/ '/^rtt/ {print $5}'
}
loaded_rtt_ms() { # dst → avg ms of pings sent while iperf3 runs (started 1 s into the test)
  sleep 1
  ip netns exec "$A" ping -q -c $(( (DURATION - 2) * 5 )) -i 0.2 -W 1 "$1" 2>/dev/null | awk -F/ '/^rtt/ {print $5}'
}
iperf_mbps() { # dst streams → Mbit/s received and retransmits
  ip netns exec "$A" iperf3 -c "$1" -t "$DURATION" -P "$2" -J 2>/dev/null | "$BUN" -e '
    const t = await Bun.stdin.text();
    try { const r = JSON.parse(t); console.log((r.end.sum_received.bits_per_second / 1e6).toFixed(0), r.end.sum_sent.retransmits ?? 0); }
    catch { console.log("nan 0"); }'
}
rss_mb() { # pid → peak RSS (VmHWM) in MB
  awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo nan
}
cpu_ticks() { # pid → user + system clock ticks of the whole process (all threads)
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)]}'; }

declare -A DST=([veth]=198.18.200.2 [veilnet]=100.64.204.2 [veilnet_plain]=100.64.201.2
  [wireguard_go]=100.64.202.2 [nebula]=100.64.203.2)
SYSTEMS=(veth veilnet veilnet_plain wireguard_go nebula)
declare -A PID_A=([veilnet]=$VEILNET_PID_oa [veilnet_plain]=$VEILNET_PID_pa [wireguard_go]=$WG_PID_a
  [nebula]=$NEBULA_PID_a)
declare -A PID_B=([veilnet]=$VEILNET_PID_ob [veilnet_plain]=$VEILNET_PID_pb [wireguard_go]=$WG_PID_b
  [nebula]=$NEBULA_PID_b)
HZ=$(getconf CLK_TCK)
declare -A S1 S4 RTT RETR LRTT CPUA CPUB
for s in "${SYSTEMS[@]}"; do
  wait_reachable "${DST[$s]}" || log "$s: ${DST[$s]} unreachable"
  RTT[$s]=$(rtt_ms "${DST[$s]}")
done
for round in $(seq "$ROUNDS"); do
  for s in "${SYSTEMS[@]}"; do
    loaded_rtt_ms "${DST[$s]}" >"$WORK/lrtt" &
    lpid=$!
    ta=0 tb=0
    if [ -n "${PID_A[$s]:-}" ]; then ta=$(cpu_ticks "${PID_A[$s]}") tb=$(cpu_ticks "${PID_B[$s]}"); fi
    t0=$(date +%s.%N)
    read -r m r < <(iperf_mbps "${DST[$s]}" 1)
    if [ -n "${PID_A[$s]:-}" ]; then
      wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
      pct() { awk -v d="$(( $(cpu_ticks "$1") - $2 ))" -v hz="$HZ" -v w="$wall" 'BEGIN {printf "%.0f", d / hz / w * 100}'; }
      CPUA[$s]="${CPUA[$s]:-} $(pct "${PID_A[$s]}" "$ta")"
      CPUB[$s]="${CPUB[$s]:-} $(pct "${PID_B[$s]}" "$tb")"
    fi
    wait "$lpid"
    LRTT[$s]="${LRTT[$s]:-} $(cat "$WORK/lrtt")"
    S1[$s]="${S1[$s]:-} $m"
    RETR[$s]="${RETR[$s]:-} $r"
    read -r m4 _ < <(iperf_mbps "${DST[$s]}" 4)
    S4[$s]="${S4[$s]:-} $m4"
    log "round $round $s: single ${m} Mbit/s (retransmits $r, loaded rtt $(cat "$WORK/lrtt") ms," \
      "cpu a/b $(echo "${CPUA[$s]:-n/a}" | awk "{print \$NF}")/$(echo "${CPUB[$s]:-n/a}" | awk "{print \$NF}") %), -P 4 ${m4} Mbit/s, idle rtt ${RTT[$s]} ms"
  done
done

VEILNET_RSS=$(( $(rss_mb "$VEILNET_PID_oa") + $(rss_mb "$VEILNET_PID_ob") ))
WG_RSS=$(( $(rss_mb "$WG_PID_a") + $(rss_mb "$WG_PID_b") ))
NEBULA_RSS=$(( $(rss_mb "$NEBULA_PID_a") + $(rss_mb "$NEBULA_PID_b") ))
kill "$VEILNET_PID_oa" "$VEILNET_PID_ob" "$VEILNET_PID_pa" "$VEILNET_PID_pb" 2>/dev/null
sleep 1
grep -h '^counters' "$WORK"/veilnet-*.log | cut -c1-400 >&2
counter_ob() { # name → value in the offload receiver's (B's) final counters
  grep -ho "\"$1\":[0-9]*" "$WORK/veilnet-ob.log" 2>/dev/null | head -1 | cut -d: -f2
}

out=""
for s in "${SYSTEMS[@]}"; do
  out+="${s}_mbps=$(echo "${S1[$s]}" | median) ${s}_p4_mbps=$(echo "${S4[$s]}" | median) "
  out+="${s}_retransmits=$(echo "${RETR[$s]}" | median) ${s}_rtt_ms=${RTT[$s]:-nan} "
  out+="${s}_loaded_rtt_ms=$(echo "${LRTT[$s]}" | median) "
  if [ -n "${PID_A[$s]:-}" ]; then
    ca=$(echo "${CPUA[$s]}" | median) cb=$(echo "${CPUB[$s]}" | median)
    out+="${s}_cpu_a_pct=$ca ${s}_cpu_b_pct=$cb ${s}_first_ping_ms=${FIRST[$s]:-nan} "
    out+="${s}_mbps_per_core=$(awk -v m="$(echo "${S1[$s]}" | median)" -v c="$((ca + cb))" \
      'BEGIN { if (c > 0 && m == m + 0) printf "%.0f", m / (c / 100); else print "nan" }') "
  fi
done
v=$(echo "${S1[veilnet]}" | median)
vp=$(echo "${S1[veilnet_plain]}" | median)
w=$(echo "${S1[wireguard_go]}" | median)
n=$(echo "${S1[nebula]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a == a + 0) printf "%.2f", a / b; else print "nan" }'; }
out+="ratio_vs_wireguard_go=$(ratio "$v" "$w") ratio_vs_nebula=$(ratio "$v" "$n") "
out+="ratio_plain_vs_wireguard_go=$(ratio "$vp" "$w") "
out+="veilnet_rss_mb=$VEILNET_RSS wireguard_go_rss_mb=$WG_RSS nebula_rss_mb=$NEBULA_RSS "
out+="veilnet_rx_packets=$(counter_ob rxPackets) veilnet_rx_gro_batches=$(counter_ob rxGroBatches) "
out+="veilnet_rx_coalesced_writes=$(counter_ob rxCoalescedWrites) "
out+="duration_s=$DURATION rounds=$ROUNDS mtu=$MTU gso_max_segs=${GSO_MAX_SEGS:-default} "
out+="load1=$(cut -d' ' -f1 /proc/loadavg)"
echo "$out"
