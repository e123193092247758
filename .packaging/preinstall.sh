#!/bin/sh
# The standby system user owns /var/lib/standby and runs both units; made before unpacking so the
# package's files can name it.
set -e
if ! getent group standby >/dev/null; then
	groupadd --system standby
fi
if ! getent passwd standby >/dev/null; then
	useradd --system --gid standby --home-dir /var/lib/standby --no-create-home \
		--shell /usr/sbin/nologin --comment "Standby failover supervisor" standby
fi
