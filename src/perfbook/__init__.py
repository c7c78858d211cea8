"""perfbook: the performance-incident runbook as software."""

__version__ = "0.1.0"
