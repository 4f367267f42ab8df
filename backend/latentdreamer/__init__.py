"""LatentDreamer backend: single image to textured mesh (see README's architecture section)."""

__version__ = "0.1.0"
