"""E-mail alerts, callback and fallbackcommand scripts, monitorfile."""
