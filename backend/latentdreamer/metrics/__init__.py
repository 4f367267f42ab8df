"""Evaluation metrics under the protocol of DESIGN.md §7 (geometry here; image metrics beside it)."""
