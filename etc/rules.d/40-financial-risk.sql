-- 40-financial-risk.sql: financial transaction risk control (brief analysis 4: transaction
-- volume, risk score, abnormal transactions, geographic distribution, time pattern).
-- One transaction per message:
--   {"transaction_id": "txn_001", "amount": 1000.00, "risk_score": 30, "location": "US", "timestamp": "..."}
--
-- Knobs (change them in the SQL below; keep the copies of a threshold equal):
--   * analysis window .......... TumblingWindow('30m')
--   * high-risk transaction .... risk_score >= 80          (risk_indicators, high_risk_transactions)
--   * large transaction ........ amount >= 10000           (abnormal = high risk OR large)
--   * risk_flag ................ at least 1 high-risk transaction in the window
--                                OR avg_risk_score >= 50
--   * time pattern ............. transactions per hour of day (UTC): count_by(hour(timestamp))
--   * geographic distribution .. transactions per location: count_by(location)
--   * duplicate deliveries ..... dropped by EVENT_ID = 'transaction_id'

CREATE STREAM payments WITH (
  TOPIC = 'payments/+/transactions', FORMAT = 'json', TIMESTAMP = 'timestamp',
  MAXOUTOFORDERNESS = '5s', EVENT_ID = 'transaction_id'
);

CREATE RULE risk_indicators WITH (TOPIC = 'analytics/risk', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       round(sum(amount), 2) AS total_amount,
       count(*) AS transaction_count,
       count(*) FILTER (WHERE risk_score >= 80) AS high_risk_transactions,
       count(*) FILTER (WHERE risk_score >= 80 OR amount >= 10000) AS abnormal_transactions,
       round(avg(risk_score), 2) AS avg_risk_score,
       max(risk_score) AS max_risk_score,
       round(sum(amount) FILTER (WHERE risk_score >= 80), 2) AS high_risk_amount,
       (count(*) FILTER (WHERE risk_score >= 80) >= 1 OR avg(risk_score) >= 50) AS risk_flag,
       count_by(location) AS geographic_distribution,
       count_by(hour(timestamp)) AS hourly_pattern
FROM payments
GROUP BY TumblingWindow('30m');

-- Risk warning per transaction, as soon as it arrives (no window).
CREATE RULE high_risk_transactions WITH (TOPIC = 'alerts/risk', QOS = 1) AS
SELECT transaction_id, amount, risk_score, location, timestamp
FROM payments
WHERE risk_score >= 80 OR amount >= 10000;
