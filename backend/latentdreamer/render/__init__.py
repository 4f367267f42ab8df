"""Render stage: cameras, differentiable rasterisation and the image buffers the losses compare."""
