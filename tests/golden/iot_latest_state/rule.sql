@include ../../../etc/rules.d/00-device-filter.sql
@include ../../../etc/rules.d/50-iot-devices.sql
