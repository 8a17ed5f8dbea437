-- egcfg DuckDB schema. Applied on every open; every statement is idempotent.
-- Keys: run_id = config_hash(run config); task_id = Problem.task_id; agent_index, line_index,
-- candidate_index, test_index, position as in egcfg_core.records. Times are UTC.
-- Bump the version below (and storage.store.SCHEMA_VERSION) on any incompatible change.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TIMESTAMP DEFAULT current_timestamp
);
INSERT INTO schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;

-- One row per run (one configuration of the whole sweep).
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    config        JSON NOT NULL,              -- canonical JSON of the config that run_id hashes
    model         VARCHAR NOT NULL,
    code_version  VARCHAR NOT NULL,           -- git sha when available
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    timings       MAP(VARCHAR, DOUBLE)        -- run-level timings (model_load_s, ...)
);

-- Added after schema version 1 without a bump (old stores get it on their next writable open;
-- their runs read NULL = not recorded): which sandbox isolation ran the run's code, each kind
-- seen by its sessions once (SandboxPool.isolation's words, e.g. 'bwrap (bundled: /path)' or
-- 'none: resource limits only (why)').  Not part of the config: it does not change results.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS isolation VARCHAR[];

-- One row per problem of a run. status = 'done' with done_at set is the done-marker: it is
-- committed in the same transaction as every other row of the problem.
CREATE TABLE IF NOT EXISTS problems (
    run_id        VARCHAR NOT NULL,
    task_id       VARCHAR NOT NULL,
    benchmark     VARCHAR NOT NULL,
    problem       JSON,                       -- Problem.to_dict(); NULL for a failure without it
    status        VARCHAR NOT NULL CHECK (status IN ('done', 'failed')),
    done_at       TIMESTAMP,                  -- set iff status = 'done'
    wall_s        DOUBLE,
    error         VARCHAR NOT NULL DEFAULT '',
    failures      INTEGER NOT NULL DEFAULT 0, -- how many times this problem failed so far
    n_attempts    INTEGER,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, task_id)
);

-- One row per agent attempt.
CREATE TABLE IF NOT EXISTS attempts (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    agent_index     INTEGER NOT NULL,
    agent_name      VARCHAR NOT NULL,         -- AgentConfig.name ("greedy" for gamma = 0)
    t               DOUBLE NOT NULL,
    gamma           DOUBLE NOT NULL,
    s               INTEGER NOT NULL,
    d               INTEGER NOT NULL,
    outcome         VARCHAR NOT NULL,         -- 'passed' | 'failed' | 'cancelled' | 'error'
    stop_reason     VARCHAR NOT NULL,
    passed_visible  BOOLEAN NOT NULL,
    is_winner       BOOLEAN NOT NULL,         -- first agent to pass every visible test
    is_final        BOOLEAN NOT NULL,         -- its code is the problem's solution
    code            VARCHAR NOT NULL,
    error           VARCHAR NOT NULL,
    visible         STRUCT(test_index INTEGER, status VARCHAR, error VARCHAR, duration_s DOUBLE)[],
    n_lines         INTEGER NOT NULL,
    n_tokens        INTEGER NOT NULL,
    timings         MAP(VARCHAR, DOUBLE),
    PRIMARY KEY (run_id, task_id, agent_index)
);

-- Added after schema version 1 without a bump (ADD COLUMN IF NOT EXISTS gives old stores the
-- columns on their next writable open; older rows read NULL): the verified candidate that ended
-- the attempt (stop_reason 'verified', decode.accept_verified), NULL when none did.
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS verified_line INTEGER;       -- its line_index
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS verified_candidate INTEGER;  -- its candidate_index
-- The run this greedy attempt was copied from ([run] reuse_greedy: a stored run with the same
-- config.greedy_key made it token for token; its lines, candidates and tokens are copied too), NULL
-- when it was decoded in this run.
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS reused_from VARCHAR;
-- Where the attempt's code came from and how much of it the execution signal chose
-- (egcfg_core/attribution.py; a final solution has them through its attempt, solutions.agent_index).
-- Added after schema version 1 without a bump: older rows read NULL, except where
-- scripts/backfill_attribution.py filled them in from what a results export holds.
--   code_source: 'greedy' (γ = 0, t = 0) | 'sampler' (γ = 0, t > 0) | 'draft' (a sampled candidate
--   accepted at line verified_line) | 'guided' (an EG-CFG agent's line loop to its end, >= 1 token
--   chosen under a signal) | 'unguided' (the same, no token chosen under a signal) | 'loop' (the
--   same, guided or not unknown: back-filled rows only) | 'none' (no code)
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS code_source VARCHAR;
-- tokens of the code chosen by the decoder (a draft's: those of the lines before it), of those
-- the ones chosen under a signal (γ > 0, the line's signal non-empty) and the lines they are in,
-- and the guided ones where the guidance changed the unguided argmax; NULL = not known
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS final_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS final_guided_lines INTEGER;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS final_guided_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS final_flipped_tokens INTEGER;
-- What the attempt cost (egcfg_core/compute.py, its FIELDS say who counts what), its lines and its
-- final visible-test run included; the same columns on lines (per line).  NULL = not measured
-- (rows written before the columns; back-filled results).  A copied greedy attempt (reused_from)
-- carries what it cost in the run it came from.
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS prefill_tokens INTEGER;           -- handed to extend (p_sol's prompt tail; p_dyn per guided line)
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS head_prefill_tokens INTEGER;      -- the shared prompt head, on the first attempt that used it
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS decoded_tokens_sol INTEGER;       -- appended to p_sol one by one
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS decoded_tokens_dyn INTEGER;       -- appended to p_dyn one by one
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS sampled_tokens INTEGER;           -- candidate rows, all rows
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS forward_passes INTEGER;           -- model forwards (transformers, llama.cpp)
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS server_requests INTEGER;          -- openai engine: requests (retries included)
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS server_prompt_tokens BIGINT;      -- openai engine: prompt tokens sent
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS server_completion_tokens INTEGER; -- openai engine: completion tokens returned
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS sandbox_runs INTEGER;             -- programs run in the sandbox
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS sandbox_cpu_s DOUBLE;             -- their user+system CPU (the sandbox's fork child)
-- process_cpu_s: time.process_time of the whole process over the attempt: with agent_workers or
-- problem_workers > 1 it includes whatever ran at the same time (compare it on sequential runs)
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS process_cpu_s DOUBLE;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS wall_s DOUBLE;                    -- = timings['wall_s']

-- One row per generated line.
CREATE TABLE IF NOT EXISTS lines (
    run_id        VARCHAR NOT NULL,
    task_id       VARCHAR NOT NULL,
    agent_index   INTEGER NOT NULL,
    line_index    INTEGER NOT NULL,
    prefix        VARCHAR NOT NULL,           -- the code before this line
    signal_text   VARCHAR NOT NULL,           -- '' = no guidance for this line
    chosen_text   VARCHAR NOT NULL,
    n_candidates  INTEGER NOT NULL,
    n_tokens      INTEGER NOT NULL,
    timings       MAP(VARCHAR, DOUBLE),       -- sample_s, execute_s, prefill_s, decode_s
    PRIMARY KEY (run_id, task_id, agent_index, line_index)
);
-- Added later the same way (older rows read NULL): the rule that spared the line its exploration
-- or its guidance (decode.skip_certain / skip_confident: 'header', 'fence', 'ahead', 'confident'
-- = not explored; 'agree' = explored and executed, no guidance), '' = the line ran the method.
ALTER TABLE lines ADD COLUMN IF NOT EXISTS skip_rule VARCHAR;
-- What the line cost: the compute columns of attempts (but head_prefill_tokens), counted while
-- the line ran (added later the same way; older rows read NULL).
ALTER TABLE lines ADD COLUMN IF NOT EXISTS prefill_tokens INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS decoded_tokens_sol INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS decoded_tokens_dyn INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS sampled_tokens INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS forward_passes INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS server_requests INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS server_prompt_tokens BIGINT;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS server_completion_tokens INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS sandbox_runs INTEGER;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS sandbox_cpu_s DOUBLE;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS process_cpu_s DOUBLE;
ALTER TABLE lines ADD COLUMN IF NOT EXISTS wall_s DOUBLE;

-- One row per sampled candidate continuation of a line.
CREATE TABLE IF NOT EXISTS candidates (
    run_id           VARCHAR NOT NULL,
    task_id          VARCHAR NOT NULL,
    agent_index      INTEGER NOT NULL,
    line_index       INTEGER NOT NULL,
    candidate_index  INTEGER NOT NULL,
    raw_text         VARCHAR NOT NULL,
    executable       VARCHAR,                 -- NULL when nothing runnable could be extracted
    duplicate_of     INTEGER,                 -- earlier candidate with the same executable
    PRIMARY KEY (run_id, task_id, agent_index, line_index, candidate_index)
);
-- decode.carry_drafts: the line where this draft was sampled and executed (it began with the lines
-- written since; raw_text is its rest, its executions rows repeat that line's); NULL = sampled here
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS carried_from INTEGER;

-- One row per (candidate x visible test) run in the sandbox.
CREATE TABLE IF NOT EXISTS executions (
    run_id           VARCHAR NOT NULL,
    task_id          VARCHAR NOT NULL,
    agent_index      INTEGER NOT NULL,
    line_index       INTEGER NOT NULL,
    candidate_index  INTEGER NOT NULL,
    test_index       INTEGER NOT NULL,
    status           VARCHAR NOT NULL,        -- passed | failed | error | timeout | memory | killed
    error            VARCHAR NOT NULL,        -- '' or 'ExcType: message'
    trace_text       VARCHAR NOT NULL,
    trace            JSON,
    duration_s       DOUBLE NOT NULL,
    PRIMARY KEY (run_id, task_id, agent_index, line_index, candidate_index, test_index)
);

-- One row per generated token. position counts tokens across the whole attempt.
CREATE TABLE IF NOT EXISTS token_decisions (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    agent_index     INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    line_index      INTEGER NOT NULL,
    token_id        INTEGER NOT NULL,
    token_text      VARCHAR NOT NULL,
    gamma           DOUBLE NOT NULL,
    logp_uncond     DOUBLE NOT NULL,          -- log M(w | p_sol) of the chosen token
    logp_guided     DOUBLE NOT NULL,          -- log M(w | p_dyn)
    logp_combined   DOUBLE NOT NULL,          -- the distribution actually decoded from
    topk_uncond     STRUCT(id INTEGER, logp FLOAT)[],
    topk_guided     STRUCT(id INTEGER, logp FLOAT)[],
    topk_combined   STRUCT(id INTEGER, logp FLOAT)[],
    argmax_changed  BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, task_id, agent_index, position)
);

-- The final solution of each done problem.
CREATE TABLE IF NOT EXISTS solutions (
    run_id              VARCHAR NOT NULL,
    task_id             VARCHAR NOT NULL,
    code                VARCHAR NOT NULL,
    agent_index         INTEGER NOT NULL,     -- the attempt whose code this is
    is_winner           BOOLEAN NOT NULL,     -- that attempt passed every visible test
    winner_agent_index  INTEGER,              -- NULL when no agent passed the visible tests
    any_passed_visible  BOOLEAN NOT NULL,     -- oracle figure: some attempt passed visible
    passed_hidden       BOOLEAN,              -- NULL until evaluated
    PRIMARY KEY (run_id, task_id)
);

-- The final solution scored on each hidden test (never used to choose anything).
CREATE TABLE IF NOT EXISTS evaluations (
    run_id      VARCHAR NOT NULL,
    task_id     VARCHAR NOT NULL,
    test_index  INTEGER NOT NULL,
    status      VARCHAR NOT NULL,
    error       VARCHAR NOT NULL,
    duration_s  DOUBLE NOT NULL,
    passed      BOOLEAN NOT NULL,             -- problem-level: the solution passed them all
    PRIMARY KEY (run_id, task_id, test_index)
);

-- The final solution scored on the hidden tests of ANOTHER suite of the same tasks, after the
-- run (`egcfg evaluate`): e.g. an mbpp run's solutions on 'mbpp-et', a humaneval run's on
-- 'humaneval-et'.  Nothing is re-generated and these tests never choose anything.  Added after
-- schema version 1 without a bump: CREATE IF NOT EXISTS gives old stores the table on their
-- next writable open; readers treat a store without it as holding no suite evaluations.
-- A problem's rows of one suite are written in one transaction (delete + insert).
CREATE TABLE IF NOT EXISTS suite_evaluations (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    suite           VARCHAR NOT NULL,         -- a benchmark name of egcfg_core.problems, e.g. 'mbpp-et'
    test_index      INTEGER NOT NULL,         -- index into that suite's hidden tests of the task
    status          VARCHAR NOT NULL,         -- passed | failed | error | timeout | memory | killed
    error           VARCHAR NOT NULL,
    duration_s      DOUBLE NOT NULL,
    passed_problem  BOOLEAN NOT NULL,         -- every test of this task in this suite passed
    evaluated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, task_id, suite, test_index)
);

-- EVERY attempt's code (not only the final solution) scored on the hidden tests of a suite, after
-- the run (`egcfg evaluate RUN SUITE --all-attempts`; SUITE may be the run's own benchmark).  For
-- the paper-protocol figure only: a task counts when ANY attempt passes (how the reference
-- counts), which is not pass@1.  These scores never choose anything.  One row per attempt and
-- suite (a summary, not per test, to keep the committed results small).  Added after schema
-- version 1 without a bump, like suite_evaluations; a problem's rows of one suite are written in
-- one transaction (delete + insert).
CREATE TABLE IF NOT EXISTS attempt_evaluations (
    run_id        VARCHAR NOT NULL,
    task_id       VARCHAR NOT NULL,
    agent_index   INTEGER NOT NULL,
    suite         VARCHAR NOT NULL,           -- a benchmark name, e.g. 'humaneval' or 'mbpp-et'
    passed        BOOLEAN NOT NULL,           -- the attempt's code passed every test of the suite
    n_tests       INTEGER NOT NULL,
    n_passed      INTEGER NOT NULL,
    error         VARCHAR NOT NULL,           -- '' or the first failing test's 'status: error'
    duration_s    DOUBLE NOT NULL,
    evaluated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, task_id, agent_index, suite)
);

-- Dataset rows that could not become a Problem.
CREATE TABLE IF NOT EXISTS skipped_rows (
    run_id     VARCHAR NOT NULL,
    benchmark  VARCHAR NOT NULL,
    row_id     VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    PRIMARY KEY (run_id, benchmark, row_id)
);
