CREATE STREAM a WITH (TOPIC = 'in/a', TIMESTAMP = 'ts');
CREATE STREAM b WITH (TOPIC = 'in/b', TIMESTAMP = 'ts');
CREATE STREAM late_b WITH (TOPIC = 'in/lb', TIMESTAMP = 'ts', ALLOWEDLATENESS = '1m');
CREATE RULE r1 AS SELECT count(*) FROM a JOIN b ON a.k = b.k GROUP BY CountWindow(5);
CREATE RULE r2 AS SELECT count(*) FROM a JOIN late_b ON a.k = late_b.k GROUP BY TumblingWindow('10s');
CREATE RULE r3 AS SELECT * FROM a JOIN b ON a.k = b.k GROUP BY TumblingWindow('10s');
CREATE RULE r4 AS SELECT count(*) FROM a JOIN b ON a.k = b.k AND a.x > 1 GROUP BY TumblingWindow('10s');
CREATE RULE r5 AS SELECT a.x FROM a LEFT JOIN b ON a.k = b.k;
CREATE RULE r6 AS SELECT count(*) FROM a JOIN b ON a.k = b.k GROUP BY SessionWindow('10s', '1m');
