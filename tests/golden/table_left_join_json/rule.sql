-- LEFT JOIN against a JSON table (an array of objects): unknown devices keep their row with the
-- table's columns NULL; SELECT * carries the event and the joined columns.
CREATE STREAM readings WITH (TOPIC = 'sensors/+/reading');
CREATE TABLE meta (device, owner, floor BIGINT) WITH (TYPE = 'file', PATH = 'meta.json', KEY = 'device');

CREATE RULE tagged WITH (TOPIC = 'out/tagged') AS
SELECT device, owner, floor, coalesce(owner, 'unassigned') AS who FROM readings LEFT JOIN meta ON readings.device = meta.device;

CREATE RULE everything WITH (TOPIC = 'out/all') AS
SELECT * FROM readings LEFT OUTER JOIN meta m ON device = m.device;
