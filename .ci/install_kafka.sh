#!/usr/bin/env bash
# Prefetch the pinned Apache Kafka jars (docker/kafka-broker/pom.xml) into
# $SCANFLOW_KAFKA_HOME (default ~/.cache/scanflow/kafka) so the kafka test tier
# starts without a download. Installs Java 17 and Maven from Debian when absent
# and allowed (root). Safe to run repeatedly: a complete cache is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_kafka: missing ${need[*]}; install them (Java 17 and Maven) and rerun" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

python3 -m scanflow.brokers.kafka fetch
