"""Baking the six views into a UV texture: texels -> view colours -> colour-grid fill -> push-pull.

One algorithm per module, in the order `bake.bake_texture` runs them.
"""
