@include ../../../etc/examples/anomaly_zscore.sql
