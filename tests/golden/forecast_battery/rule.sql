@include ../../../etc/examples/forecast_battery.sql
