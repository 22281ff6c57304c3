# One image for the region and the cluster (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client freeipmi-tools ipmitool \
      libvirt-clients fence-agents snmp \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/maas
COPY pyproject.toml README.md ./
COPY region ./region
COPY cluster ./cluster
COPY rpc ./rpc
COPY power ./power
RUN pip install --no-cache-dir .
EXPOSE 5240 5250
CMD ["maas-region", "serve"]
