@include ../../../etc/examples/trend_slope_peak_rate.sql
