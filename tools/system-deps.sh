#!/usr/bin/env bash
# Install the Debian packages the project needs, when they are missing.
#   system-deps.sh run    PostgreSQL server binaries (unless MAAS_DATABASE_URL is set)
#   system-deps.sh test   also the real peers the tests talk to
# Without root, only reports what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || have_cmd initdb; }

if [ -z "${MAAS_DATABASE_URL:-}" ] && ! have_pg; then
  need+=(postgresql)
fi
if [ "${1:-run}" = test ]; then
  have_cmd docker-compose || need+=(docker-compose)
  # power/: an IPMI BMC simulator, and both IPMI clients the ipmi driver can use.
  have_cmd ipmi_sim || need+=(openipmi)
  have_cmd ipmitool || need+=(ipmitool)
  # (FreeIPMI installs to /usr/sbin, which a non-root PATH often lacks.)
  [ -x /usr/sbin/ipmipower ] || have_cmd ipmipower || need+=(freeipmi-tools)
  # power/: virsh driver (libvirt test driver under a session libvirtd), fence_cdu (+ telnet).
  have_cmd virsh || need+=(libvirt-clients)
  [ -x /usr/sbin/libvirtd ] || have_cmd libvirtd || need+=(libvirt-daemon)
  [ -x /usr/sbin/fence_cdu ] || have_cmd fence_cdu || need+=(fence-agents)
  have_cmd telnet || need+=(telnet)
  have_cmd ssh || need+=(openssh-client)
  # power/: the apc driver's SNMP agent (snmpd + a pass_persist outlet table), snmp tools.
  [ -x /usr/sbin/snmpd ] || have_cmd snmpd || need+=(snmpd)
  have_cmd snmpget || need+=(snmp)
fi

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  # Tests that need a missing peer skip themselves; PostgreSQL is mandatory.
  [[ " ${need[*]} " == *" postgresql "* ]] && exit 1
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
