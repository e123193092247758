#!/bin/sh
# Removal stops the units (an upgrade does not: postinstall restarts them).
set -e
case "$1" in
remove | purge)
	if [ -d /run/systemd/system ]; then
		systemctl stop standby.service standby-agent.service >/dev/null 2>&1 || true
		systemctl disable standby.service standby-agent.service >/dev/null 2>&1 || true
	fi
	;;
esac
