-- 10-sales.sql: sales indicators (brief analysis 1: total sales, order count, average order value,
-- sales trend, peak sales time). Also declares the `shop` stream of business events that
-- 20-user-behavior.sql and 60-analysis-result.sql read too.
--
-- Knobs (change them in the SQL below):
--   * what counts as an order ........ event_type = 'purchase'            (WHERE of sales_indicators)
--   * analysis window ................ TumblingWindow('30m')              (sales_indicators)
--   * sales_per_minute divisor ....... 30 = window length in minutes      (keep it equal to the window)
--   * peak search period ............. TumblingWindow('1d')               (sales_peak)
--   * out-of-order tolerance ......... MAXOUTOFORDERNESS = '5s'           (stream shop)
--
-- Windows are half-open [start, end): an order at exactly 10:30:00 belongs to [10:30, 11:00).
-- Sales trend compares each window with the previous window that had orders (lag over the
-- aggregate): sales_change and sales_growth_rate are NULL for the first window.

CREATE STREAM shop WITH (
  TOPIC = 'shop/+/events', FORMAT = 'json', TIMESTAMP = 'timestamp',
  MAXOUTOFORDERNESS = '5s', EVENT_ID = 'event_id'
);

CREATE RULE sales_indicators WITH (TOPIC = 'analytics/sales', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       round(sum(amount), 2) AS total_sales,
       count(*) AS order_count,
       round(avg(amount), 2) AS average_order_value,
       round(sum(amount) / 30, 2) AS sales_per_minute,
       round(sum(amount) - lag(sum(amount)), 2) AS sales_change,
       round((sum(amount) - lag(sum(amount))) / lag(sum(amount)), 4) AS sales_growth_rate,
       CASE sign(round(sum(amount) - lag(sum(amount)), 2))
            WHEN 1 THEN 'up' WHEN -1 THEN 'down' WHEN 0 THEN 'flat' ELSE 'new' END AS sales_trend
FROM shop
WHERE event_type = 'purchase'
GROUP BY TumblingWindow('30m');

-- Peak sales time: the 30-minute window with the highest sales in each day, computed over the
-- output of sales_indicators (rule chaining).
CREATE RULE sales_peak WITH (TOPIC = 'analytics/sales/peak', QOS = 1) AS
SELECT window_start() AS day_start,
       window_end() AS day_end,
       max_by(window_start, total_sales) AS peak_window_start,
       max_by(window_end, total_sales) AS peak_window_end,
       max(total_sales) AS peak_total_sales,
       round(sum(total_sales), 2) AS day_total_sales
FROM sales_indicators
GROUP BY TumblingWindow('1d');
