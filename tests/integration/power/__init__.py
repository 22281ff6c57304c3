"""Power drivers against real peers: an OpenIPMI BMC simulator, a UDP listener."""
