-- eKuiper docs, windows, "Other count windows": COUNTWINDOW(5, 2), a window of the latest 5
-- events triggered every 2 events once 5 have arrived.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE cw WITH (TOPIC = 'out/cw') AS
SELECT collect(id) AS ids FROM demo GROUP BY COUNTWINDOW(5, 2);
