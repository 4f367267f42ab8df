"""Reading and writing meshes and images in the formats users and Blender exchange."""
