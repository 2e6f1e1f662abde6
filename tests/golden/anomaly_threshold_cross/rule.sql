@include ../../../etc/examples/anomaly_threshold_cross.sql
