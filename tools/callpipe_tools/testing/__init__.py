"""Test harnesses shipped with callpipe (fault injection for the paid-API adapters)."""
