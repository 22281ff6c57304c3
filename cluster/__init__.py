"""The MAAS cluster controller: DHCP, TFTP, boot images and power, near the machines."""
