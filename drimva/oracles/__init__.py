"""External validators run as independent oracles (tools nobody on this project wrote)."""
