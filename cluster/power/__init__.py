"""
The cluster's power work: changes and queries the region asks for
(``service``), and the monitor that keeps every node's power state fresh
(``monitor``).
"""
