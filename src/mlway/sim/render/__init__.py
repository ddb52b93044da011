"""Procedural frames: painters for each camera's scene, then light, the camera's pose and lens effects."""
