#!/bin/sh
# Debian's docker-registry with htpasswd auth for the credentials given in the environment.
set -eu
: "${REGISTRY_USER:?set REGISTRY_USER}"
: "${REGISTRY_PASSWORD:?set REGISTRY_PASSWORD}"
htpasswd -Bbc /auth/htpasswd "$REGISTRY_USER" "$REGISTRY_PASSWORD" 2>/dev/null
exec docker-registry serve /etc/registry/config.yml
