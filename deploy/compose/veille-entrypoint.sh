#!/usr/bin/env bash
# Entrypoint of veille's image (deploy/Dockerfile): runs `veille "$@"` with three conventions of
# the docker compose stack (docker-compose.yml, docs/deploy.md).
#
# 1. An empty setting is an unset one. .env.example lists every setting, most of them empty
#    (X_BEARER_TOKEN=, KAFKA_SASL_MECHANISM=, ...), and compose hands .env to the containers
#    whole; veille's settings would take "" as a value (and reject it, or read an empty token as
#    a token). Empty KAFKA_*, CLICKHOUSE_*, X_* and VEILLE_* variables are unset, so the
#    settings take their defaults.
# 2. `--source auto` (the ingest service's default): X's filtered stream when X_BEARER_TOKEN is
#    set, else the synthetic source, so a stack without an X token fills its dashboards.
# 3. `--status-file PATH`: a status file left by an earlier run of this container is removed
#    before veille starts, so the healthcheck never reads a stale "running".
set -euo pipefail

for name in $(compgen -e); do
    if [[ $name =~ ^(KAFKA|CLICKHOUSE|X|VEILLE)_ && -z ${!name} ]]; then
        unset "$name"
    fi
done

pick_source() {
    if [[ -n ${X_BEARER_TOKEN:-} ]]; then echo x; else echo synthetic; fi
}

args=()
prev=""
for arg in "$@"; do
    case "$prev|$arg" in
        --source\|auto) arg=$(pick_source) ;;
        *\|--source=auto) arg="--source=$(pick_source)" ;;
        --status-file\|*) rm -f -- "$arg" ;;
        *\|--status-file=*) rm -f -- "${arg#--status-file=}" ;;
    esac
    args+=("$arg")
    prev=$arg
done

exec veille "${args[@]}"
