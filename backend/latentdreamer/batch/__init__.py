"""Batches of generate jobs: items from folders or manifests, run locally or on Ray actors."""
