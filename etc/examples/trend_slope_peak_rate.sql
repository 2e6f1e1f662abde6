-- Example: trend (least-squares slope), peak window (max_by) and rate of change (lag over a chained rule).
-- Tested by tests/golden/trend_slope_peak_rate (input and expected output there).

CREATE STREAM shop WITH (TOPIC = 'shop/+/events', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Sales per minute.
CREATE RULE sales_per_min WITH (TOPIC = 'analytics/sales_per_min') AS
SELECT window_start() AS ws, round(sum(amount), 2) AS sales, count(*) AS orders
FROM shop WHERE event_type = 'purchase' GROUP BY TumblingWindow('1m');

-- Rate of change between windows: lag over the chained per-minute rows.
CREATE RULE sales_change WITH (TOPIC = 'analytics/sales_change') AS
SELECT ws, sales, sales - lag(sales) AS change,
       round((sales - lag(sales)) / lag(sales) * 100, 1) AS change_pct
FROM sales_per_min;

-- Trend (least-squares slope of sales over time, per minute) and the peak minute of each 5 minutes.
CREATE RULE sales_trend_5m WITH (TOPIC = 'analytics/sales_trend') AS
SELECT window_start() AS ws, round(trend(sales, ws) * 60, 3) AS sales_change_per_min,
       max_by(ws, sales) AS peak_minute, max(sales) AS peak_sales
FROM sales_per_min GROUP BY TumblingWindow('5m');
