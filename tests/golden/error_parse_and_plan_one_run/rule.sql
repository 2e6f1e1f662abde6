CREATE STREAM broken WITH (TOPIC = 'test/+/b' FORMAT = 'json');
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT nosuchfunction(v) AS x FROM s;
CREATE RULE reads_broken WITH (TOPIC = 'out/b') AS
SELECT v FROM broken;
CREATE RULE r2 WITH (TOPIC = 'out/r2') AS
SELECT v FROM s WHERE v >;
