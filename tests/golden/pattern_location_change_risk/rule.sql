@include ../../../etc/examples/pattern_location_change_risk.sql
