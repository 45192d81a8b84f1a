"""Infrastructure beside the stages: what makes runs incremental, parallel and safe.

One job per module, none of them domain logic:

* `atomic`: atomic writes (temp file, fsync, rename), `ParquetTables` written batch by batch;
* `cache`: the content-hash cache of extracted files (get/put by content digest);
* `versions`: the code version of each stage (a hash of the source of the modules it
  depends on), the second half of every cache key;
* `stages`: stage fingerprints and done markers, per-product keys;
* `isolated`: each file read in a forked worker within limits (time, memory);
* `executors`: local workers or a dask.distributed cluster (`--executor dask`);
* `progress`: a rich progress bar, or log lines;
* `lock`: one run at a time per folder (`fcntl.flock`);
* `history`: run history (history.jsonl, append-only) and changes since the last run;
* `exits`: exit codes for schedulers;
* `stage_process`, `validation`: the validate stage in a fresh interpreter;
* `gx`: Great Expectations, run; `parquet_batches`: Parquet read a batch at a time with
  the whole file's dtypes; `jsonstream`: the GX result files written piece by piece;
  `memory`: the garbage collector and pyarrow's allocator between steps;
* `piece_store`: the report pieces and the chart kept for the next run.
"""
