#!/bin/sh
# Ownership of the state directory and configs (they hold tokens: readable by the standby group
# only), then systemd learns about the units. Nothing is enabled or started: edit
# /etc/standby/standby.toml first, then `systemctl enable --now standby`.
set -e
install -d -o standby -g standby -m 0750 /var/lib/standby
for f in /etc/standby/standby.toml /etc/standby/agent.toml; do
	if [ -e "$f" ]; then
		chgrp standby "$f"
		chmod 0640 "$f"
	fi
done
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts what was running, so the new binary supervises.
	for u in standby.service standby-agent.service; do
		if systemctl is-active --quiet "$u"; then
			systemctl try-restart "$u" || true
		fi
	done
fi
