"""Multi-view priors: the single input image in, six views (colour, alpha, normals) out."""
