"""The process boundary: the console lifetime, the signal bridge, systemd notification."""
