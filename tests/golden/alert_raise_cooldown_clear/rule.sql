@include ../../../etc/examples/alert_raise_cooldown_clear.sql
