-- eKuiper docs, aggregate functions, DEDUPLICATE: the whole window's rows deduplicated by `a`.
CREATE STREAM test WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE dedup WITH (TOPIC = 'out/dedup') AS
SELECT deduplicate(a, true) as r1 FROM test GROUP BY TumblingWindow(ss, 10);
