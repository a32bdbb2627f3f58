#!/bin/bash
# Peak RSS of the daemon across an indicator reload (SIGHUP), against its
# steady RSS with 1M indicators loaded. Needs root (captures on lo).
#
#   bench/scripts/reload-peak.sh [same|10pct|new]
#
# same: the file is reloaded unchanged; 10pct: a tenth of its lines are
# replaced before the SIGHUP; new: every line is. VIGIE selects the binary
# (default target/release/vigie).
set -eu
MODE=${1:-same}
VIGIE=${VIGIE:-$(pwd)/target/release/vigie}
W=$(mktemp -d /tmp/vigie-reload.XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 - "$W" <<'PY'
import random, sys
w = sys.argv[1]
random.seed(7)
def ip(): return '%d.%d.%d.%d' % (random.randrange(1, 224), random.randrange(256), random.randrange(256), random.randrange(256))
def dom(s): return '%s%x.example-%d.%s' % (s, random.getrandbits(40), random.randrange(5000), random.choice(['com', 'net', 'org', 'io']))
def line(kind, s):
    if kind == 'ip': return ip() + ',ip'
    if kind == 'domain': return dom(s) + ',domain'
    if kind == 'url': return 'http://%s/p/%x,url' % (dom(s), random.getrandbits(32))
    return '%064x,sha256' % random.getrandbits(256)
kinds = ['ip'] * 400000 + ['domain'] * 300000 + ['url'] * 150000 + ['sha256'] * 150000
base = [line(k, 'a') for k in kinds]
open(w + '/intel.csv', 'w').write('\n'.join(base) + '\n')
ten = [line(k, 'b') if random.random() < 0.10 else l for k, l in zip(kinds, base)]
open(w + '/intel.10pct.csv', 'w').write('\n'.join(ten) + '\n')
open(w + '/intel.new.csv', 'w').write('\n'.join(line(k, 'c') for k in kinds) + '\n')
PY
cat > "$W/vigie.toml" <<TOML
[capture]
interface = "lo"
[detect]
rules = []
threads = 2
[output]
eve = "$W/eve.json"
types = "alert,stats"
stats_interval_s = 60
[intel]
files = ["$W/intel.csv"]
state_dir = "$W/state"
TOML
mkdir -p "$W/state"
"$VIGIE" run --config "$W/vigie.toml" > "$W/run.log" 2>&1 &
PID=$!
rss() { awk "/$1/{print \$2}" /proc/$PID/status; }
prev=0
for _ in $(seq 1 90); do
  sleep 1
  cur=$(rss VmRSS)
  if [ "$cur" = "$prev" ] && [ "$cur" -gt 100000 ]; then break; fi
  prev=$cur
done
sleep 2
steady=$(rss VmRSS)
echo 5 > /proc/$PID/clear_refs   # resets VmHWM to the current RSS
case "$MODE" in
  10pct) cp "$W/intel.10pct.csv" "$W/intel.csv" ;;
  new) cp "$W/intel.new.csv" "$W/intel.csv" ;;
esac
kill -HUP $PID
peak=0
for _ in $(seq 1 150); do
  sleep 0.1
  p=$(rss VmHWM); [ "$p" -gt "$peak" ] && peak=$p
done
after=$(rss VmRSS)
kill -TERM $PID; wait $PID || true
echo "mode $MODE: steady ${steady} kB, peak during reload ${peak} kB, after ${after} kB, ratio $(echo "scale=2; $peak/$steady" | bc)"
grep -i "reload\|built" "$W/run.log" | tail -2
