CREATE STREAM s WITH (TOPIC = 'in/s');
CREATE TABLE t (id, name) WITH (TYPE = 'file', PATH = 'none.csv', KEY = 'id');
CREATE RULE r AS
SELECT t.nme FROM s JOIN t ON s.k = t.id;
CREATE RULE r2 AS
SELECT v FROM s JOIN t ON s.k = t.ident;
