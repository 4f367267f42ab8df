"""The three optimisation stages of the pipeline (coarse latent, refined FlexiCubes, texture)
and what they share: targets from the prior views, image losses, the Adam loop."""
