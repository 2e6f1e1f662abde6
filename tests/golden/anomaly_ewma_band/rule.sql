@include ../../../etc/examples/anomaly_ewma_band.sql
