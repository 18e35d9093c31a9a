"""The composed config: checks before any image is read, and the objects built from it."""
