#!/usr/bin/env bash
# Goal (issue 14): tests/e2e/watch.sh with the devices learnt of through
# the libudev monitor (--device-events udev) instead of polling /sys: with
# no udevd on the machine, the kernel's own uevents ("change" when a loop
# device is attached). ~10 s.
WATCH_EVENTS=udev exec bash "$(dirname "$0")/watch.sh"
