"""Generation pipeline: six views in, textured mesh out (LIN -> coarse -> refine -> texture)."""
