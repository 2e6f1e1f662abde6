-- eKuiper docs, aggregate functions, COLLECT: collect(*) (the window's whole rows) and
-- collect(*)[1]->a. Not supported here: refused with a position, never misread.
CREATE STREAM test WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE collect_rows WITH (TOPIC = 'out/c2') AS
SELECT collect(*) as r1 FROM test GROUP BY TumblingWindow(ss, 10);
CREATE RULE collect_index WITH (TOPIC = 'out/c3') AS
SELECT collect(*)[1]->a as r1 FROM test GROUP BY TumblingWindow(ss, 10);
