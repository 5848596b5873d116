"""Malware scanners (`MalwareScanner` adapters)."""
