"""The user shards that recommendations are partitioned by and evaluation ranks in steps of its
own; MUSICREC_USER_SHARDS sets how many.

Every shard is one partition of the recommendations, so a backfill gives each shard its own
run, which the run launcher places in its own process, pod or worker; within one evaluation run
each shard is one step, which the executor places likewise.
"""

import os

import dagster as dg

USER_SHARDS_ENV = "MUSICREC_USER_SHARDS"
N_USER_SHARDS = int(os.environ.get(USER_SHARDS_ENV, "4"))
SHARD_COLUMN = "user_shard"

user_shard_partitions = dg.StaticPartitionsDefinition([str(i) for i in range(N_USER_SHARDS)])
