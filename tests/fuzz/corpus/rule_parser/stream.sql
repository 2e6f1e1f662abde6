CREATE STREAM shop WITH (TOPIC = 'shop/+/events', FORMAT = 'json', TIMESTAMP = 'timestamp', MAXOUTOFORDERNESS = '5s');
