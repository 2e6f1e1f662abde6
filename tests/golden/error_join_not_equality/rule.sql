CREATE STREAM s WITH (TOPIC = 'in/s');
CREATE TABLE t (id, lim) WITH (TYPE = 'file', PATH = 'none.csv', KEY = 'id');
CREATE RULE r AS
SELECT v FROM s JOIN t ON s.k = t.id AND s.v > t.lim;
CREATE RULE r2 AS
SELECT v FROM s JOIN t ON s.k = s.j;
CREATE RULE r3 AS
SELECT v FROM t;
