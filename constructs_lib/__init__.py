"""Constructs: each owns one concept of the platform and is safe by default."""
