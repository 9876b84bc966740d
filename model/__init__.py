"""Street-level image geolocation: data, geocells, networks, training, evaluation, inference."""

__version__ = "0.1.0"
