-- A windowed rule over a joined stream: GROUP BY a table column, aggregates over table and
-- stream columns; the table is JSON lines and the join has two equality keys.
CREATE STREAM sales WITH (TOPIC = 'shop/+/sale', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE TABLE prices (shop, sku, price FLOAT, region) WITH (TYPE = 'file', PATH = 'prices.jsonl', KEY = 'shop, sku');

CREATE RULE revenue WITH (TOPIC = 'out/revenue') AS
SELECT p.region, count(*) AS sales, sum(s.qty * p.price) AS revenue, max(p.price) AS top_price
FROM sales s JOIN prices p ON p.shop = s.shop AND s.sku = p.sku
GROUP BY p.region, TumblingWindow('1m')
ORDER BY region;
