/**
 * Versioned schema migrations, applied in order at start-up inside one transaction each.
 * Append new migrations; never edit one that has shipped. `PRAGMA user_version` records the version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, jobs, steps, queue, logs, deliveries, artifacts, caches',
    sql: `
      CREATE TABLE repositories (
        name            TEXT PRIMARY KEY,            -- owner/name
        url             TEXT NOT NULL,
        default_branch  TEXT NOT NULL DEFAULT 'main',
        created_at      INTEGER NOT NULL
      );

      CREATE TABLE runs (
        id              TEXT PRIMARY KEY,
        number          INTEGER NOT NULL,            -- per repository, from 1
        repo            TEXT NOT NULL,
        pipeline        TEXT NOT NULL,
        event           TEXT NOT NULL,               -- push | tag | pull_request | manual
        branch          TEXT,
        tag             TEXT,
        base_branch     TEXT,
        sha             TEXT NOT NULL,
        ref             TEXT,
        commit_message  TEXT,
        commit_author   TEXT,
        pr_number       INTEGER,
        pr_title        TEXT,
        triggered_by    TEXT,
        priority        TEXT NOT NULL DEFAULT 'normal',
        concurrency_group TEXT,
        status          TEXT NOT NULL,
        error           TEXT,
        plan_json       TEXT NOT NULL,               -- the Plan the run executes
        rerun_of        TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,  -- 1 once cancelRun/supersede asked; no new job starts
        created_at      INTEGER NOT NULL,
        started_at      INTEGER,
        finished_at     INTEGER
      );
      -- Run lists page newest first, optionally within a repository (branch/status filter the walk).
      -- Run numbers come from counters ('run_number:<repo>'), not from an index on (repo, number).
      CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
      CREATE INDEX runs_by_repo ON runs (repo, created_at DESC, id DESC);
      CREATE INDEX runs_by_group ON runs (concurrency_group) WHERE concurrency_group IS NOT NULL;

      CREATE TABLE jobs (
        id              TEXT PRIMARY KEY,
        run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        plan_id         TEXT NOT NULL,               -- PlannedJob.id, unique within the run
        name            TEXT NOT NULL,
        stage           TEXT,
        position        INTEGER NOT NULL,            -- topological index in the plan
        needs_json      TEXT NOT NULL DEFAULT '[]',  -- planned ids this job waits for
        status          TEXT NOT NULL,
        error           TEXT,
        attempt         INTEGER NOT NULL DEFAULT 0,
        started_at      INTEGER,
        finished_at     INTEGER,
        log_lines       INTEGER NOT NULL DEFAULT 0,  -- next log seq
        log_bytes       INTEGER NOT NULL DEFAULT 0,
        UNIQUE (run_id, plan_id)                     -- also the jobs-of-a-run index
      ) WITHOUT ROWID;

      CREATE TABLE steps (
        job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx             INTEGER NOT NULL,
        name            TEXT NOT NULL,
        status          TEXT NOT NULL,
        exit_code       INTEGER,
        log_offset      INTEGER,                     -- first log seq of the step
        started_at      INTEGER,
        finished_at     INTEGER,
        PRIMARY KEY (job_id, idx)
      ) WITHOUT ROWID;

      -- The durable queue: one entry per job that is ready or waiting for its needs.
      -- state: waiting (needs not done) -> queued -> active (lease_until, token) -> done
      CREATE TABLE queue (
        job_id          TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        run_id          TEXT NOT NULL,
        repo            TEXT NOT NULL,
        state           TEXT NOT NULL,
        priority        INTEGER NOT NULL,            -- PRIORITY_RANK
        enqueued_at     INTEGER NOT NULL,
        -- Claim order: enqueued_at - priority * agingIntervalMs ("virtual enqueue time"). One
        -- priority level is worth one aging interval of waiting, so ordering by this static key
        -- is priority-first, FIFO within a level, and ages waiting jobs — with an index, no scan.
        sort_key        INTEGER NOT NULL DEFAULT 0,
        attempts        INTEGER NOT NULL DEFAULT 0,
        max_attempts    INTEGER NOT NULL DEFAULT 3,
        token           INTEGER NOT NULL DEFAULT 0,  -- fencing token of the current claim
        worker          TEXT,
        instance        TEXT,                        -- engine process that holds the claim
        lease_until     INTEGER
      ) WITHOUT ROWID;
      -- Partial indexes: each holds only the rows its query needs, so a state change touches few pages
      -- (each page a transaction dirties is one more WAL frame written at commit). A run's entries are
      -- found through jobs (run_id) and the primary key.
      CREATE INDEX queue_ready ON queue (sort_key, enqueued_at) WHERE state = 'queued';
      CREATE INDEX queue_active ON queue (repo, lease_until) WHERE state = 'active';
      CREATE INDEX queue_waiting ON queue (run_id) WHERE state = 'waiting';


      -- Run numbers per repository ('run_number:<repo>'). Fencing tokens are seeded from MAX(queue.token).
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

      CREATE TABLE deliveries (
        id              TEXT PRIMARY KEY,
        delivery_id     TEXT NOT NULL,               -- X-GitHub-Delivery
        body_sha256     TEXT,
        event           TEXT NOT NULL,
        repo            TEXT,
        received_at     INTEGER NOT NULL,
        outcome         TEXT NOT NULL,               -- accepted | ignored | rejected
        http_status     INTEGER NOT NULL,
        reason          TEXT NOT NULL,
        run_ids         TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX deliveries_by_time ON deliveries (received_at DESC);
      -- Replay protection: ids and body digests of accepted deliveries, kept at least 3 days.
      CREATE TABLE seen_deliveries (
        key             TEXT PRIMARY KEY,            -- 'id:<delivery id>' or 'body:<sha256>'
        seen_at         INTEGER NOT NULL
      );
      CREATE INDEX seen_by_time ON seen_deliveries (seen_at);

      CREATE TABLE artifacts (
        id              TEXT PRIMARY KEY,
        run_id          TEXT NOT NULL,
        job_id          TEXT NOT NULL,
        path            TEXT NOT NULL,               -- relative to the workspace
        size            INTEGER NOT NULL,
        sha256          TEXT NOT NULL,               -- content address of the blob
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER
      );
      CREATE INDEX artifacts_by_run ON artifacts (run_id);
      CREATE INDEX artifacts_by_job ON artifacts (job_id);
      CREATE INDEX artifacts_by_expiry ON artifacts (expires_at);

      CREATE TABLE caches (
        repo            TEXT NOT NULL,
        scope           TEXT NOT NULL,               -- the branch the entry belongs to
        key             TEXT NOT NULL,
        file            TEXT NOT NULL,               -- archive path under the data directory
        size            INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        last_used_at    INTEGER NOT NULL,
        PRIMARY KEY (repo, scope, key)
      );
      CREATE INDEX caches_by_use ON caches (last_used_at);

      CREATE TABLE cache_stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO cache_stats (name, value) VALUES ('hits', 0), ('misses', 0), ('partial_hits', 0);
    `,
  },
  {
    version: 2,
    name: 'seen_deliveries becomes an append-only log ordered by time',
    // The replay guard now checks keys in memory (loaded at start), so the table only needs to be
    // appended to, purged by age and read in order. Keyed by (seen_at, key), each delivery appends at
    // the end of one B-tree instead of writing two random pages of a key index plus a time index.
    sql: `
      CREATE TABLE seen_deliveries_log (
        seen_at         INTEGER NOT NULL,
        key             TEXT NOT NULL,               -- 'id:<delivery id>' or 'body:<sha256>'
        PRIMARY KEY (seen_at, key)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO seen_deliveries_log (seen_at, key) SELECT seen_at, key FROM seen_deliveries;
      DROP TABLE seen_deliveries;
      ALTER TABLE seen_deliveries_log RENAME TO seen_deliveries;
    `,
  },
  {
    version: 3,
    name: 'forge status outbox and pull-request comments: what to post, durable across restarts',
    // One row per status to post. Rows of one (repo, sha, context) are posted in id order, one at a
    // time; 'pending' rows wait for next_at (backoff). The per-repository row keeps the last outcome
    // for the settings page ("statuses posted", "token lacks permission").
    sql: `
      CREATE TABLE forge_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        repo            TEXT NOT NULL,
        sha             TEXT NOT NULL,
        context         TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        state           TEXT NOT NULL,               -- pending | success | failure | error
        description     TEXT NOT NULL,
        target_url      TEXT,
        status          TEXT NOT NULL DEFAULT 'pending', -- pending | posted | failed
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_at         INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        posted_at       INTEGER
      );
      CREATE INDEX forge_outbox_due ON forge_outbox (status, next_at, id);
      CREATE INDEX forge_outbox_key ON forge_outbox (repo, sha, context, id);
      CREATE INDEX forge_outbox_run ON forge_outbox (run_id, id);

      -- One pull-request comment per (repo, pull request, pipeline), updated in place: the run it
      -- should describe (wanted_run) and the one it last described (posted_run).
      CREATE TABLE forge_pr_comments (
        repo            TEXT NOT NULL,
        pr_number       INTEGER NOT NULL,
        pipeline        TEXT NOT NULL,
        comment_id      INTEGER,
        wanted_run      TEXT NOT NULL,
        posted_run      TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_at         INTEGER NOT NULL,
        last_error      TEXT,
        PRIMARY KEY (repo, pr_number, pipeline)
      );

      CREATE TABLE forge_repo_state (
        repo            TEXT PRIMARY KEY,
        ok              INTEGER NOT NULL,
        message         TEXT NOT NULL,
        at              INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'catch-up: last-seen remote heads per repository, catch-up state, runs by commit',
    // ref_heads is written in the transaction that stores the runs a head started (or, for a head
    // that starts nothing, in a write of its own), so a kill -9 loses the runs and the head together.
    // runs_by_sha answers "has any run built this commit of this ref?" for the exactly-once check.
    sql: `
      CREATE TABLE ref_heads (
        repo            TEXT NOT NULL,
        ref             TEXT NOT NULL,               -- refs/heads/…, refs/tags/…, refs/pull/N/head
        sha             TEXT NOT NULL,
        seen_at         INTEGER NOT NULL,
        PRIMARY KEY (repo, ref)
      ) WITHOUT ROWID;
      CREATE TABLE catch_up_repos (
        repo            TEXT PRIMARY KEY,
        baseline_at     INTEGER NOT NULL,            -- first sight: heads recorded, history not built
        caught_up       INTEGER NOT NULL DEFAULT 0   -- runs started by catch-up
      );
      CREATE INDEX runs_by_sha ON runs (repo, sha);
    `,
  },
  {
    version: 5,
    name: 'debug: runs started with debug, failed jobs kept for debugging',
    // kept_jobs outlives the process that kept the job: a restart records the job's failure with the
    // claim it held, then adopts the container until its deadline or removes it (engine/debug-service.ts).
    sql: `
      CREATE TABLE debug_runs (
        run_id          TEXT PRIMARY KEY,
        created_at      INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE kept_jobs (
        job_id          TEXT PRIMARY KEY,
        run_id          TEXT NOT NULL,
        container_id    TEXT NOT NULL,
        job_key         TEXT NOT NULL,               -- the kiln.job label of its containers (the job's id)
        step_index      INTEGER NOT NULL,
        step_name       TEXT NOT NULL,
        kept_at         INTEGER NOT NULL,
        deadline        INTEGER NOT NULL,            -- epoch ms; the container is removed then
        claim_token     INTEGER NOT NULL,            -- the queue claim that kept it (recorded failed after a crash)
        attempt         INTEGER NOT NULL,
        error           TEXT                         -- the job's error sentence (already masked)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'test reports (JUnit totals per file, cases, flaky tests per branch) and job phase times',
    // Cases hang off runs (not jobs) so that deleting a run removes them through the run_id index;
    // a retried job replaces its own rows. Flaky tests are recorded when a report is stored (the
    // earlier failing runs of the same commit are few), so the Tests tab reads them by branch.
    // job_phases: one row per phase start of an attempt; a phase ends where the next one starts.
    sql: `
      CREATE TABLE test_reports (
        run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        job_id          TEXT NOT NULL,
        file            TEXT NOT NULL,               -- relative to the workspace
        tests           INTEGER NOT NULL,
        passed          INTEGER NOT NULL,
        failed          INTEGER NOT NULL,
        errored         INTEGER NOT NULL,
        skipped         INTEGER NOT NULL,
        duration_ms     REAL NOT NULL,
        problem         TEXT,                        -- FILE:LINE:COL: why it gave no cases
        PRIMARY KEY (run_id, job_id, file)
      ) WITHOUT ROWID;
      CREATE TABLE test_cases (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        job_id          TEXT NOT NULL,
        file            TEXT NOT NULL,
        suite           TEXT NOT NULL,
        classname       TEXT NOT NULL,
        name            TEXT NOT NULL,
        status          TEXT NOT NULL,               -- passed | failed | errored | skipped
        duration_ms     REAL,
        message         TEXT,
        output          TEXT
      );
      -- One index: failures are read by status; the slowest cases scan the run's rows at read time
      -- (a few ms for 100,000) rather than every insert paying for a second index.
      CREATE INDEX test_cases_by_run ON test_cases (run_id, status);
      CREATE TABLE flaky_tests (
        repo            TEXT NOT NULL,
        branch          TEXT NOT NULL,               -- '' for runs without a branch
        job             TEXT NOT NULL,               -- planned job id
        classname       TEXT NOT NULL,
        name            TEXT NOT NULL,
        sha             TEXT NOT NULL,
        failed_run_id   TEXT NOT NULL,
        passed_run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        at              INTEGER NOT NULL,
        PRIMARY KEY (passed_run_id, job, classname, name)
      ) WITHOUT ROWID;
      CREATE INDEX flaky_by_branch ON flaky_tests (repo, branch, at DESC);
      CREATE TABLE job_phases (
        job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        attempt         INTEGER NOT NULL,
        at              INTEGER NOT NULL,
        seq             INTEGER NOT NULL,
        phase           TEXT NOT NULL,               -- setting_up | pulling | steps | after_steps | tearing_down | done
        PRIMARY KEY (job_id, attempt, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: 'what a job produced: log groups, annotations, job summaries',
    // Groups are keyed by their first line; a viewer reads a job's groups in seq order (the primary
    // key) instead of scanning its log. Annotations are read per run (the run view) and per job.
    sql: `
      CREATE TABLE log_groups (
        job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        start_seq       INTEGER NOT NULL,            -- the ::group:: line
        end_seq         INTEGER,                     -- the ::endgroup:: line (end_marker 1) or one past the content; NULL while open
        end_marker      INTEGER NOT NULL DEFAULT 0,
        depth           INTEGER NOT NULL,
        step            INTEGER,
        title           TEXT NOT NULL,
        PRIMARY KEY (job_id, start_seq)
      ) WITHOUT ROWID;
      CREATE TABLE annotations (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        level           TEXT NOT NULL,               -- error | warning | notice
        source          TEXT NOT NULL,               -- step | kiln
        message         TEXT NOT NULL,
        seq             INTEGER,
        step            INTEGER,
        title           TEXT,
        file            TEXT,
        line            INTEGER,
        end_line        INTEGER,
        col             INTEGER,
        end_col         INTEGER
      );
      CREATE INDEX annotations_by_run ON annotations (run_id, id);
      CREATE INDEX annotations_by_job ON annotations (job_id, id);
      CREATE TABLE job_summaries (
        job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        step            INTEGER NOT NULL,
        step_name       TEXT NOT NULL,
        markdown        TEXT NOT NULL,               -- masked, cut to the limits
        bytes           INTEGER NOT NULL,            -- what the step wrote
        truncated       TEXT,                        -- the note shown when cut
        PRIMARY KEY (job_id, step)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 8,
    name: 'job outputs, approval gates, schedules',
    // job_outputs: a finished job's rendered outputs (masked), read by the jobs that need it.
    // approvals: one row per `when: manual` job once it waits; the queue holds it in state 'approval'.
    // schedules: per repository and schedule (its cron, zone and branches spell its identity), the
    // latest scheduled time already run, so a machine that slept through slots runs once on wake.
    // schedule_runs: what a scheduled run says about its start (the slot, and how many were missed).
    sql: `
      CREATE TABLE job_outputs (
        job_id          TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        name            TEXT NOT NULL,
        value           TEXT NOT NULL,
        bytes           INTEGER NOT NULL,
        PRIMARY KEY (job_id, name)
      ) WITHOUT ROWID;
      CREATE INDEX job_outputs_run ON job_outputs (run_id);
      CREATE TABLE approvals (
        job_id          TEXT PRIMARY KEY,
        run_id          TEXT NOT NULL,
        state           TEXT NOT NULL,               -- waiting | approved | rejected | expired
        requested_at    INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        decided_by      TEXT,
        decided_at      INTEGER
      );
      CREATE INDEX approvals_run ON approvals (run_id);
      CREATE INDEX approvals_due ON approvals (expires_at) WHERE state = 'waiting';
      CREATE TABLE schedules (
        repo            TEXT NOT NULL,
        spec            TEXT NOT NULL,               -- cron|timezone|branches
        last_slot       INTEGER NOT NULL,            -- latest scheduled time run (or first seen)
        PRIMARY KEY (repo, spec)
      ) WITHOUT ROWID;
      CREATE TABLE schedule_runs (
        run_id          TEXT PRIMARY KEY,
        slot            INTEGER NOT NULL,
        missed          INTEGER NOT NULL,            -- scheduled times not run before this one
        note            TEXT NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'engines: the Docker engine that ran (or runs) each job',
    // Written when the job starts on an engine; kept after the job ends, for the run view.
    sql: `ALTER TABLE jobs ADD COLUMN engine TEXT;`,
  },
  {
    version: 10,
    name: 'debug: kept jobs stranded on an engine no longer configured, and the Docker that keeps each',
    // stranded: its engine is no longer configured, so it holds no slot (only its record stays, for
    // the user to act on). docker_id: `docker info`'s ID of the engine that kept it, so a container
    // missing from another Docker under the same engine name is not taken for removed.
    sql: `
      ALTER TABLE kept_jobs ADD COLUMN stranded INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE kept_jobs ADD COLUMN docker_id TEXT;
    `,
  },
];
