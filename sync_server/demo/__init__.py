"""The demo and the traffic simulator: a shop's simulated visitors (simulation.py) and the
devices that run the real engine against a running server over HTTP (traffic.py)."""
