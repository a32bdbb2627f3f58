#!/usr/bin/env bash
# End-to-end replay speed and memory: vigie (1 and 2 workers) against a reference
# IDS on the same capture, in one run so the numbers compare as ratios.
#
#   bench/scripts/compare-reference.sh [PCAP] [RULES]
#
# PCAP defaults to the big corpus mix (built with ../shared/tools/make-corpus-mix.sh
# into target/bench-data when missing; needs Debian's wireshark-common). RULES
# defaults to none (decode + flows + app layer only). The reference IDS is used
# when `suricata` is on PATH; otherwise only vigie is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
pcap=${1:-}
rules=${2:-}
if [ -z "$pcap" ]; then
  pcap=target/bench-data/corpus-big.pcap
  [ -f "$pcap" ] || bash ../shared/tools/make-corpus-mix.sh target/bench-data
fi
cargo build --release -q --bin vigie
vigie=target/release/vigie
pkts=$($vigie replay --quiet --eve - --eve-types stats "$pcap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["decoder"]["pkts"])')
bytes=$(stat -L -c %s "$pcap")
measure() { # label, command...
  local label=$1; shift
  local out; out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>&1 || true
  read -r secs kb < "$out"; rm -f "$out"
  python3 - "$label" "$secs" "$kb" "$pkts" "$bytes" <<'PY'
import sys
label, secs, kb, pkts, size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"{label:<28} {secs:7.2f} s  {pkts/secs/1e6:6.2f} Mpkt/s  {size*8/secs/1e9:6.2f} Gbit/s  {kb/1024:7.1f} MB peak RSS")
PY
}
ruleargs=()
[ -n "$rules" ] && ruleargs=(--rules "$rules")
echo "capture: $pcap ($pkts packets, $((bytes / 1000000)) MB)${rules:+, rules: $rules}"
if command -v suricata >/dev/null; then
  log=$(mktemp -d)
  sargs=(-S /dev/null); [ -n "$rules" ] && sargs=(-S "$rules"/\*.rules)
  measure "reference IDS" suricata -r "$pcap" -k none -l "$log" "${sargs[@]}"
  rm -rf "$log"
fi
if [ -z "$rules" ]; then
  # Issue 3's path: decode + defrag + dispatch, no flows or parsers.
  measure "vigie decode-only -t 1" $vigie replay --quiet --decode-only --eve /dev/null --threads 1 "$pcap"
  measure "vigie decode-only -t 2" $vigie replay --quiet --decode-only --eve /dev/null --threads 2 "$pcap"
fi
measure "vigie --threads 1" $vigie replay --quiet --eve /dev/null --threads 1 "${ruleargs[@]}" "$pcap"
measure "vigie --threads 2" $vigie replay --quiet --eve /dev/null --threads 2 "${ruleargs[@]}" "$pcap"
