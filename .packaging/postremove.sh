#!/bin/sh
# Purge removes the state (operators' mapping and policy edits, the supervisor term); dpkg
# removes the conffiles, and /etc/standby goes too unless something else is left there (TLS
# files the admin made stay). The standby user stays, as Debian keeps system users.
set -e
case "$1" in
purge)
	rm -rf /var/lib/standby
	rmdir --ignore-fail-on-non-empty /etc/standby 2>/dev/null || true
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
