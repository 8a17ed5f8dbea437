"""Reading the store for people: the Markdown/HTML report (``reports.report``) and the guidance
explorer (``reports.explorer``).  Both read through storage's query API (``storage.export``:
``open_for_query``, ``open_shards``, ``open_parquet``) and never write a store."""
