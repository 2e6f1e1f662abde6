-- eKuiper docs, aggregate functions, COLLECT, first example: SELECT collect(a) as r1 FROM test
-- GROUP BY TumblingWindow(ss, 10). (The collect(*) forms: ekuiper_doc_collect_star.)
CREATE STREAM test WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE collect_column WITH (TOPIC = 'out/c1') AS
SELECT collect(a) as r1 FROM test GROUP BY TumblingWindow(ss, 10);
