-- Run by the postgres image once, when it creates the data directory, as the superuser in
-- the application's database (POSTGRES_DB). The server loads the module at start
-- (shared_preload_libraries in the compose files); this makes its view queryable:
--   SELECT query, mean_exec_time, calls FROM pg_stat_statements ORDER BY mean_exec_time DESC;
-- A data directory created before this file existed: run the statement once by hand
-- (docs/deployment.md).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
