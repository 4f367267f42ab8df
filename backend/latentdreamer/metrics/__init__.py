"""Evaluation metrics under the protocol of docs/design.md §7 (geometry here; image metrics beside it)."""
