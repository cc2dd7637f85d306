-- Nothing: SQLite is one process, whose limits stay in memory. The folder keeps the two
-- backends' migration lists alike (migrations/README.md).
SELECT 1;
