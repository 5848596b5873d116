#!/usr/bin/env bash
# Every speed goal's bench once, one after another (about 10 minutes on 2 cores), each
# bench's table in OUT/<name>.out and its log in OUT/<name>.err, the times and the load
# average before each in OUT/log. Run it on a quiet machine, from a checkout that nobody
# edits meanwhile:  bench/all_goals.sh [OUT]   (default: .data/bench-all)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-.data/bench-all}
mkdir -p "$out"
run() {
    local name=$1
    shift
    echo "== $name $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/log"
    timeout 1800 uv run --frozen python "$@" >"$out/$name.out" 2>"$out/$name.err"
    echo "== $name exit $? $(date -u +%H:%M:%S)" >>"$out/log"
}
run sends bench/sends.py
run ai_stream bench/ai_stream.py --rounds 2 --sequential 5
run storage bench/storage.py
run auth bench/auth.py --duration 5 --runs 3
run webhook_ingest bench/webhook_ingest.py --runs 3
run inbound_e2e bench/inbound_e2e.py
run campaigns bench/campaigns.py
echo "== done $(date -u +%H:%M:%S)" >>"$out/log"
grep -h -E 'goal|aim' "$out"/*.out
