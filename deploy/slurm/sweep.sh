#!/usr/bin/env bash
# A sansnet sweep on Slurm: an array job of 8 shards, then a merge job that runs once every
# shard has finished. Submit from a directory on a shared file system:
#
#     sbatch deploy/slurm/sweep.sh
#
# (this script submits the merge job itself when it runs as the array's first task).
#SBATCH --job-name=sansnet-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=04:00:00
#SBATCH --output=results/shard-%a.log
set -euo pipefail
SANSNET=${SANSNET:-target/release/sansnet}
mkdir -p results

if [[ ${SLURM_ARRAY_TASK_ID:-} == 0 ]]; then
    # The merge: after every task of this array has ended (afterany: a shard that found
    # failures exits 1, and those are what the merge reports).
    sbatch --dependency="afterany:${SLURM_ARRAY_JOB_ID}" --job-name=sansnet-merge \
        --output=results/merge.log \
        --wrap="$SANSNET merge results --json results/merged.json --junit results/merged.xml"
fi

status=0
"$SANSNET" sweep --seeds 100000 --topology swarm --size mixed \
    --shard auto/8 --jobs "${SLURM_CPUS_PER_TASK:-2}" --progress plain \
    --summary "results/summary-${SLURM_ARRAY_TASK_ID}.json" \
    --out "results/failures-${SLURM_ARRAY_TASK_ID}" || status=$?
# 1: runs failed (the merge reports them); anything else is an error of the shard itself.
test "$status" -le 1
