@include ../../../etc/examples/pattern_login_purchase.sql
