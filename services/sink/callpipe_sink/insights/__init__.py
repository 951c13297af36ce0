"""Insights API and built-in dashboard page over the warehouse."""

from callpipe_sink.insights.app import create_app

__all__ = ["create_app"]
