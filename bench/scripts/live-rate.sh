#!/usr/bin/env bash
# Live capture rate: the highest tcpreplay rate at which vigie (AF_PACKET,
# rules loaded) drops nothing on a veth pair, next to the rate at which
# `tcpdump -w /dev/null` drops nothing on the same pair (the kernel's own
# limit on this machine). Run as root; needs iproute2, tcpreplay, tcpdump.
#
#   bench/scripts/live-rate.sh PCAP [RULES] [RATES] [LOOPS]
#
# RULES: a rule file or directory (e.g. ET Open); default none.
# RATES: space-separated packets/s steps, "top" for --topspeed; default
#        "50000 100000 200000 300000 400000 top".
# LOOPS: times the capture is sent per step (tcpreplay --loop), default 10:
#        the capture must be much larger than the capture buffers (64 MiB
#        ring, tcpdump -B 65536), or both tools only fill their buffers.
# vigie gets one uncounted warm-up pass at 20,000 packets/s first.
# Prints one line per tool and rate: the rate tcpreplay reached, packets
# captured, packets the kernel dropped. Compare the tools as a ratio: the
# machine is shared and noisy, absolute rates are not portable.
set -euo pipefail
cd "$(dirname "$0")/../.."
pcap=${1:?usage: live-rate.sh PCAP [RULES] [RATES]}
rules=${2:-}
rates=${3:-"50000 100000 200000 300000 400000 top"}
loops=${4:-10}
[ "$(id -u)" = 0 ] || { echo "live-rate.sh: needs root (netns, AF_PACKET)" >&2; exit 1; }
for t in ip tcpreplay tcpdump; do
  command -v $t >/dev/null || { echo "live-rate.sh: $t is not installed" >&2; exit 1; }
done
cargo build --release -q --bin vigie
vigie=$PWD/target/release/vigie

ns=vigie-rate-$$
work=$(mktemp -d)
# tcpreplay stops at the first empty record; the corpus has some. Send a copy
# without them (classic pcap in, classic pcap out).
python3 - "$pcap" "$work/send.pcap" <<'PY'
import struct, sys
src = open(sys.argv[1], "rb").read()
magic = src[:4]
end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
out, pos, kept = [src[:24]], 24, 0
while pos + 16 <= len(src):
    _, _, caplen, origlen = struct.unpack(end + "IIII", src[pos:pos + 16])
    if pos + 16 + caplen > len(src):
        break
    if 0 < caplen <= 65535 and origlen > 0:
        out.append(src[pos:pos + 16 + caplen])
        kept += 1
    pos += 16 + caplen
open(sys.argv[2], "wb").write(b"".join(out))
print(f"sending {kept} packets", file=sys.stderr)
PY
pcap=$work/send.pcap
vpid=
cleanup() {
  [ -n "$vpid" ] && kill -TERM "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip link add va type veth peer name vb
for l in lo va vb; do in_ns ip link set "$l" up; done
# Jumbo frames of the corpus must not fail to send.
in_ns ip link set va mtu 65535 2>/dev/null || in_ns ip link set va mtu 9000
in_ns ip link set vb mtu 65535 2>/dev/null || in_ns ip link set vb mtu 9000

# Sends the capture; prints the rate reached (packets/s) and packets sent.
send() { # rate
  local args=(--pps "$1"); [ "$1" = top ] && args=(--topspeed)
  local out; out=$(in_ns tcpreplay -i va --loop "$loops" "${args[@]}" "$pcap" 2>&1 || true)
  local pps sent
  pps=$(sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' <<<"$out" | head -1)
  sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' <<<"$out" | head -1)
  echo "${pps%.*} $sent"
}

scrape() { # metric name
  in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/19478; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" |
    awk -v m="$1" '$1 == m { print $2 }'
}

printf '%-8s %10s %12s %10s %10s\n' tool asked reached_pps captured dropped

# tcpdump: a fresh process per rate; it reports its counters on exit.
for r in $rates; do
  # Not through in_ns: $! must be tcpdump itself. SIGTERM, not SIGINT, which
  # background jobs of a script ignore.
  ip netns exec "$ns" tcpdump -i vb -B 65536 -n -q -w /dev/null 2>"$work/td.log" &
  tpid=$!
  sleep 1
  read -r pps sent < <(send "$r")
  sleep 1
  kill -TERM $tpid; wait $tpid 2>/dev/null || true
  cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/td.log")
  drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/td.log")
  printf '%-8s %10s %12s %10s %10s\n' tcpdump "$r" "$pps" "$cap" "$drop"
done

# vigie: one daemon for all rates (rules load once); counters are deltas.
rules_toml=
[ -n "$rules" ] && rules_toml="rules = [\"$(realpath "$rules")\"]"
cat >"$work/vigie.toml" <<EOF
[capture]
interface = "vb"
block_count = 64
[detect]
$rules_toml
threads = 2
[output]
eve = "$work/eve.json"
types = "alert"
[metrics]
listen = "127.0.0.1:19478"
EOF
ip netns exec "$ns" "$vigie" run --config "$work/vigie.toml" 2>"$work/vigie.log" &
vpid=$!
for _ in $(seq 600); do
  grep -q "capturing on vb" "$work/vigie.log" && break
  kill -0 $vpid 2>/dev/null || { cat "$work/vigie.log" >&2; exit 1; }
  sleep 0.2
done
grep -m1 "rules loaded" "$work/vigie.log" >&2 || true
# Warm-up pass, not counted: the first packets after start compile regexes
# and fault in the engine's tables, and drop at rates a warm sensor holds.
loops_saved=$loops; loops=1
send 20000 >/dev/null
loops=$loops_saved
sleep 2
for r in $rates; do
  p0=$(scrape vigie_packets_total); d0=$(scrape vigie_kernel_drops_total)
  read -r pps sent < <(send "$r")
  # Wait until every frame is either captured or counted as dropped.
  for _ in $(seq 300); do
    p1=$(scrape vigie_packets_total); d1=$(scrape vigie_kernel_drops_total)
    [ $((p1 - p0 + d1 - d0)) -ge "$sent" ] && break
    sleep 0.1
  done
  printf '%-8s %10s %12s %10s %10s\n' vigie "$r" "$pps" $((p1 - p0)) $((d1 - d0))
done
echo "alerts: $(scrape vigie_alerts_total)"
