"""Running an instance: the production server, logging, admin commands, backup and restore."""
