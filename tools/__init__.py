"""One job each, run as `python -m tools.<name>`."""
