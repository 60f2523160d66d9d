#!/usr/bin/env bash
# mpi_scaling.sh: training throughput of `elmo train` with 1 and 2 MPI ranks (1 thread each),
# and one process with 2 threads for reference; configs/elmo-en-small.json on the default
# model's shards and vocabulary (scripts/train_default_model.sh makes them), global batch 64.
# Prints the steady tokens/s of each run (the mean of the logged rates after the first log).
# Environment: ELMO (default build/elmo), STEPS (default 80), WORK (data/train-elmo-en-small).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
STEPS=${STEPS:-80}
WORK=${WORK:-data/train-elmo-en-small}
[[ -f $WORK/vocab.txt && -f $WORK/shards/shard-000.txt ]] || { echo "mpi_scaling: run scripts/train_default_model.sh first (needs $WORK/vocab.txt and shards)" >&2; exit 2; }
MPIRUN=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
OUT=$(mktemp -d /tmp/elmo-mpi-scaling-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
args=(train --options configs/elmo-en-small.json --vocab "$WORK/vocab.txt" --train "$WORK/shards/shard-00*.txt"
      --batch-size 64 --max-steps "$STEPS" --log-every 10 --checkpoint-every 100000 --seed 1)
rate() { # metrics.jsonl -> mean tokens_per_s after the first logged step
  /usr/bin/python3 -c 'import json,sys; r=[json.loads(l)["tokens_per_s"] for l in open(sys.argv[1])][1:]; print(f"{sum(r)/len(r):.0f}")' "$1"
}
"$ELMO" "${args[@]}" --threads 1 --save-dir "$OUT/np1" 2>/dev/null
echo "1 process, 1 thread:  $(rate "$OUT/np1/metrics.jsonl") tokens/s"
"${MPIRUN[@]}" -np 2 "$ELMO" "${args[@]}" --threads 1 --save-dir "$OUT/np2" 2>/dev/null
echo "2 ranks, 1 thread each: $(rate "$OUT/np2/metrics.jsonl") tokens/s"
"$ELMO" "${args[@]}" --threads 2 --save-dir "$OUT/t2" 2>/dev/null
echo "1 process, 2 threads: $(rate "$OUT/t2/metrics.jsonl") tokens/s"
