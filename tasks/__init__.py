"""Prefect tasks: thin wrappers over egcfg_core stages, one file per stage.

Granularity: per problem (prompt building, evaluation) and per agent (guided decoding); with
`run.line_tasks = true` also per line (candidate exploration, sandboxed execution). Never per token
or per execution, so orchestration stays a small fraction of wall time
(bench/pipeline_overhead.py measures it).
"""
