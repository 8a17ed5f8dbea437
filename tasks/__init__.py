"""Prefect tasks: thin wrappers over egcfg_core stages, one file per stage.

Granularity: per problem (prompt building, evaluation), per agent (guided decoding) and per line
(candidate exploration, sandboxed execution) — never per token or per execution, so orchestration
stays a small fraction of wall time (bench/pipeline_overhead.py measures it).
"""
